from __future__ import annotations

from dataclasses import dataclass

import pytest

from chameleon_provision.cloud.polling import wait_for_status
from chameleon_provision.errors import ProvisioningFailed


@dataclass(frozen=True)
class Thing:
    status: str


def test_reports_changes_and_returns_when_ready() -> None:
    seen: list[str] = []
    states = iter(["PENDING", "PENDING", "STARTING", "ACTIVE"])
    result = wait_for_status(lambda: Thing(next(states)), label="lease x", ready="ACTIVE", failed=("ERROR",),
                             timeout=10, poll=0, progress=seen.append)
    assert result.status == "ACTIVE"
    assert [line.split(" (")[0] for line in seen] == ["lease x: PENDING", "lease x: STARTING", "lease x: ACTIVE"]


def test_failed_status_and_deadline() -> None:
    with pytest.raises(ProvisioningFailed, match="went ERROR"):
        wait_for_status(lambda: Thing("ERROR"), label="server s", ready="ACTIVE", failed=("ERROR",), timeout=10,
                        poll=0, progress=lambda _m: None)
    with pytest.raises(ProvisioningFailed, match="not ACTIVE after 0 s"):
        wait_for_status(lambda: Thing("BUILD"), label="server s", ready="ACTIVE", failed=("ERROR",), timeout=0.01,
                        poll=0.005, progress=lambda _m: None)
