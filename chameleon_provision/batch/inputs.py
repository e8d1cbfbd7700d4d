"""A batch file: one repository per line, or CSV with a header and per-row overrides.

The whole file is checked before anything runs, so a typo on line 40 is a one-line error (exit 2)
rather than a half-done batch; a repository that turns out to be unreadable is that row's failure.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from chameleon_provision.config import MAX_LEASE_HOURS
from chameleon_provision.errors import InputError

COLUMNS = ("repo", "node_type", "image", "hours", "name", "site")


@dataclass(frozen=True)
class BatchRow:
    line: int  # 1-based line in the batch file, for messages and for `batch.line` in the output
    repo: str
    node_type: str | None = None
    image: str | None = None
    hours: float | None = None
    name: str | None = None
    site: str | None = None

    @property
    def label(self) -> str:
        """How progress names the row: its name, else owner/repo of a URL or the folder's own name."""
        if self.name:
            return self.name
        parts = self.repo.rstrip("/").removesuffix(".git").replace(":", "/").split("/")
        remote = "://" in self.repo or "@" in self.repo
        return "/".join(parts[-2:]) if remote else parts[-1] or self.repo

    @property
    def key(self) -> tuple[str, str | None]:
        """What `--resume-from` matches: the same repository under the same name."""
        return (self.repo, self.name)


def _content(lines: Iterable[str]) -> list[tuple[int, str]]:
    """(line number, text) of the lines that say something: no blank lines, no `#` comments."""
    return [(n, text.strip()) for n, text in enumerate(lines, 1) if text.strip() and not text.lstrip().startswith("#")]


def _hours(raw: str, line: int) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"batch line {line}: hours {raw!r} is not a number") from None
    if not 1 <= value <= MAX_LEASE_HOURS:
        raise InputError(f"batch line {line}: hours {raw} is outside 1-{MAX_LEASE_HOURS}")
    return value


def _row(line: int, cells: Mapping[str, str | None]) -> BatchRow:
    values = {k: (v or "").strip() or None for k, v in cells.items()}
    repo = values.get("repo")
    if not repo:
        raise InputError(f"batch line {line}: no repository")
    hours = values.get("hours")
    return BatchRow(line=line, repo=repo, node_type=values.get("node_type"), image=values.get("image"),
                    hours=_hours(hours, line) if hours else None, name=values.get("name"), site=values.get("site"))


def parse_rows(lines: Iterable[str]) -> list[BatchRow]:
    """Plain lines (one repository each) or CSV whose header's first column is `repo`."""
    content = _content(lines)
    if not content:
        raise InputError("the batch names no repository (blank lines and # comments only)")
    first = next(csv.reader([content[0][1]]))
    if [c.strip().lower() for c in first][:1] != ["repo"]:
        rows = []
        for n, text in content:
            if "," in text:
                raise InputError(f"batch line {n}: {text!r} has commas but the file has no CSV header",
                                 hint=f"start the file with a header such as {','.join(COLUMNS)}")
            rows.append(BatchRow(line=n, repo=text))
        return _checked(rows)
    header = [c.strip().lower() for c in first]
    unknown = [c for c in header if c not in COLUMNS]
    if unknown or len(set(header)) != len(header):
        raise InputError(f"batch line {content[0][0]}: unknown or repeated column(s) {', '.join(unknown) or header}",
                         hint=f"columns: {', '.join(COLUMNS)}")
    rows = []
    for n, text in content[1:]:
        cells = next(csv.reader([text]))
        if len(cells) > len(header):
            raise InputError(f"batch line {n}: {len(cells)} cells, the header has {len(header)}")
        rows.append(_row(n, dict(zip(header, cells, strict=False))))
    if not rows:
        raise InputError("the batch has a CSV header but no rows")
    return _checked(rows)


def _checked(rows: list[BatchRow]) -> list[BatchRow]:
    from chameleon_provision.pipeline.run import check_name
    from chameleon_provision.repo_analyzer import classify_source

    names: dict[str, int] = {}
    for row in rows:
        try:
            classify_source(row.repo)
            if row.name is not None:
                check_name(row.name)
        except InputError as exc:
            raise InputError(f"batch line {row.line}: {exc.message}") from None
        if row.name is not None and row.name in names:
            raise InputError(f"batch lines {names[row.name]} and {row.line} both use the name {row.name!r}")
        if row.name is not None:
            names[row.name] = row.line
    return rows


def read_rows(path: str, stdin_text: str | None = None) -> list[BatchRow]:
    """`path` is a file, or `-` for standard input (its text passed in as `stdin_text`)."""
    if path == "-":
        return parse_rows((stdin_text or "").splitlines())
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the batch file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return parse_rows(text.splitlines())


def answered(path: Path) -> set[tuple[str, str | None]]:
    """(repository, name) pairs a previous batch's JSON Lines answered successfully (`batch.input`, `batch.name`)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--resume-from {path}: {getattr(exc, 'strerror', None) or exc}") from None
    done: set[tuple[str, str | None]] = set()
    for n, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            doc = json.loads(text)
        except ValueError:
            raise InputError(f"--resume-from {path} line {n} is not JSON; pass the batch's standard output") from None
        batch = doc.get("batch") if isinstance(doc, dict) else None
        if isinstance(batch, dict) and "error" not in doc and isinstance(batch.get("input"), str):
            done.add((batch["input"], batch.get("name")))
    return done
