"""The exit-code table in docs/exit-codes.md and the ExitCode enum are one contract."""

from __future__ import annotations

import re
from pathlib import Path

from chameleon_provision import errors
from chameleon_provision.errors import ExitCode, ProvisionError

DOC = Path(__file__).resolve().parents[1] / "docs" / "exit-codes.md"


def documented() -> dict[int, set[str]]:
    rows: dict[int, set[str]] = {}
    for line in DOC.read_text().splitlines():
        m = re.match(r"^\|\s*(\d+)\s*\|([^|]*)\|", line)
        if m:
            rows[int(m.group(1))] = set(re.findall(r"`(\w+)`", m.group(2)))
    return rows


def error_classes() -> list[type[ProvisionError]]:
    return [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, ProvisionError)]


def test_every_exit_code_is_documented_and_nothing_else() -> None:
    assert set(documented()) == {int(c) for c in ExitCode}


def test_every_error_class_is_documented_under_its_own_code() -> None:
    rows = documented()
    for cls in error_classes():
        assert isinstance(cls.exit_code, ExitCode)
        assert cls.__name__ in rows[int(cls.exit_code)], f"{cls.__name__} missing from row {int(cls.exit_code)}"


def test_error_document_carries_details() -> None:
    doc = errors.NoCapacityError("none free", hint="later", details={"run_id": "r1"}).document()
    assert doc == {"schema_version": 1, "run_id": "r1",
                   "error": {"type": "NoCapacityError", "message": "none free", "hint": "later", "exit_code": 10}}
