"""A run's log file: one line per event (each `openstack` command, each decision, each change of state).

Lines are `<UTC time> <kind> <text> [key=value ...]`: greppable, and readable next to the twin's or
Chameleon's own logs by their request ids. Events before the run has an id (the token check, the plan's
reads) are held and written first once the file opens, so a run's log starts at its first command.
Nothing secret can reach it: `openstack` commands carry credentials only in their environment, and the
command lines written here are the argument lists the cloud layer built.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path


def log_path(state_dir: Path, run_id: str) -> Path:
    return state_dir / "logs" / f"{run_id}.log"


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _value(value: object) -> str:
    text = str(value)
    return f'"{text}"' if not text or any(c.isspace() or c == '"' for c in text) else text


class RunLog:
    """Appends event lines to the run's file once `open` names it; `mirror` also gets each line (-v)."""

    HELD = 500  # lines kept before the file opens; a command that never opens one keeps no more

    def __init__(self, mirror: Callable[[str], None] | None = None) -> None:
        self.mirror = mirror
        self.path: Path | None = None
        self._held: list[str] = []
        self._lock = threading.Lock()

    def open(self, path: Path) -> Path:
        """Write to `path` from now on (appending: resume, extend and destroy add to the run's log)."""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._lock:
            self.path = path
            held, self._held = self._held, []
            if held:
                self._append(held)
        return path

    def event(self, kind: str, text: str, **fields: object) -> None:
        line = " ".join([_stamp(), kind, text, *(f"{k}={_value(v)}" for k, v in fields.items() if v is not None)])
        if self.mirror is not None:
            self.mirror(line)
        with self._lock:
            if self.path is None:
                self._held = [*self._held, line][-self.HELD:]
            else:
                self._append([line])

    def _append(self, lines: list[str]) -> None:
        assert self.path is not None
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write("".join(f"{line}\n" for line in lines))
