"""Run state in SQLite: each cloud resource is recorded *before* its create call.

A row in state 'creating' with a unique name is what lets `destroy` and a later resume find a
resource whose create call was interrupted before its id came back. No secret is ever stored:
only names, ids, addresses and the plan.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chameleon_provision.errors import StateError

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    source TEXT NOT NULL, commit_sha TEXT, site TEXT NOT NULL, mode TEXT NOT NULL,
    status TEXT NOT NULL, lease_end TEXT, ssh_command TEXT, plan_json TEXT
);
CREATE TABLE IF NOT EXISTS resources (
    id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL REFERENCES runs(run_id),
    kind TEXT NOT NULL, name TEXT NOT NULL, site TEXT NOT NULL, cloud_id TEXT,
    status TEXT NOT NULL, detail TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS resources_run ON resources(run_id);
"""
# Deleting in this order never leaves a server without its lease or an address on a dead server.
TEARDOWN_ORDER = ("server", "floating_ip", "lease", "keypair")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    created_at: str
    source: str
    commit_sha: str | None
    site: str
    mode: str
    status: str
    lease_end: str | None
    ssh_command: str | None


@dataclass(frozen=True)
class ResourceRecord:
    id: int
    run_id: str
    kind: str  # keypair | lease | server | floating_ip
    name: str
    site: str
    cloud_id: str | None
    status: str  # creating | created | reused | deleted | failed | kept
    detail: dict[str, Any]

    @property
    def live(self) -> bool:
        return self.status in ("creating", "created")


class StateStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StateError(f"cannot open the state database {path}: {exc}",
                             hint="set PROVISION_STATE_DIR to a writable folder") from exc

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        try:
            with db:
                yield db
        finally:
            db.close()

    # runs
    def new_run(self, run_id: str, *, source: str, commit_sha: str | None, site: str, mode: str) -> None:
        now = _now()
        with self._connect() as db:
            db.execute("INSERT INTO runs (run_id, created_at, updated_at, source, commit_sha, site, mode, status)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, 'started')", (run_id, now, now, source, commit_sha, site, mode))

    def update_run(self, run_id: str, **fields: Any) -> None:
        allowed = {"status", "lease_end", "ssh_command", "plan_json", "site", "commit_sha"}
        if not fields.keys() <= allowed:
            raise ValueError(f"unknown run fields {set(fields) - allowed}")
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self._connect() as db:
            db.execute(f"UPDATE runs SET {cols}, updated_at = ? WHERE run_id = ?",
                       (*fields.values(), _now(), run_id))

    def run(self, run_id: str) -> RunRecord:
        with self._connect() as db:
            row = db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise StateError(f"no run {run_id!r} is recorded", hint="`provision status` lists your runs")
        return _run(row)

    def runs(self) -> list[RunRecord]:
        with self._connect() as db:
            return [_run(r) for r in db.execute("SELECT * FROM runs ORDER BY created_at DESC, rowid DESC")]

    def plan(self, run_id: str) -> dict[str, Any] | None:
        with self._connect() as db:
            row = db.execute("SELECT plan_json FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return json.loads(row["plan_json"]) if row and row["plan_json"] else None

    # resources
    def intend(self, run_id: str, kind: str, name: str, site: str, detail: dict[str, Any] | None = None) -> int:
        """Record a resource about to be created; returns the row id to confirm or fail later."""
        now = _now()
        with self._connect() as db:
            cur = db.execute("INSERT INTO resources (run_id, kind, name, site, status, detail, created_at, updated_at)"
                             " VALUES (?, ?, ?, ?, 'creating', ?, ?, ?)",
                             (run_id, kind, name, site, json.dumps(detail or {}), now, now))
            return int(cur.lastrowid or 0)

    def mark(self, row_id: int, status: str, *, cloud_id: str | None = None,
             detail: dict[str, Any] | None = None) -> None:
        with self._connect() as db:
            if detail is not None:
                old = db.execute("SELECT detail FROM resources WHERE id = ?", (row_id,)).fetchone()
                merged = {**json.loads(old["detail"] or "{}"), **detail} if old else detail
                db.execute("UPDATE resources SET detail = ? WHERE id = ?", (json.dumps(merged), row_id))
            db.execute("UPDATE resources SET status = ?, cloud_id = COALESCE(?, cloud_id), updated_at = ? WHERE id = ?",
                       (status, cloud_id, _now(), row_id))

    def resources(self, run_id: str | None = None) -> list[ResourceRecord]:
        query, args = "SELECT * FROM resources", ()
        if run_id is not None:
            query, args = query + " WHERE run_id = ?", (run_id,)
        with self._connect() as db:
            return [_resource(r) for r in db.execute(query + " ORDER BY id", args)]

    def live_resources(self, run_id: str) -> list[ResourceRecord]:
        """What a teardown must remove, in an order that never strands anything."""
        live = [r for r in self.resources(run_id) if r.live]
        return sorted(live, key=lambda r: (TEARDOWN_ORDER.index(r.kind) if r.kind in TEARDOWN_ORDER else 99, -r.id))


def _run(row: sqlite3.Row) -> RunRecord:
    return RunRecord(run_id=row["run_id"], created_at=row["created_at"], source=row["source"],
                     commit_sha=row["commit_sha"], site=row["site"], mode=row["mode"], status=row["status"],
                     lease_end=row["lease_end"], ssh_command=row["ssh_command"])


def _resource(row: sqlite3.Row) -> ResourceRecord:
    return ResourceRecord(id=row["id"], run_id=row["run_id"], kind=row["kind"], name=row["name"], site=row["site"],
                          cloud_id=row["cloud_id"], status=row["status"], detail=json.loads(row["detail"] or "{}"))


def hand_over(store: StateStore, kind: str, cloud_id: str, to_run: str) -> None:
    """A resource adopted by a new run no longer belongs to the run that made it (its destroy must skip it)."""
    for r in store.resources():
        if r.kind == kind and r.cloud_id == cloud_id and r.run_id != to_run and r.live:
            store.mark(r.id, "handed_over", detail={"to_run": to_run})
