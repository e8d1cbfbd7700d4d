"""Run state in SQLite: each cloud resource is recorded *before* its create call.

A row in state 'creating' with a unique name is what lets `destroy` and a later resume find a
resource whose create call was interrupted before its id came back. No secret is ever stored:
only names, ids, addresses and the plan.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chameleon_provision.errors import StateError
from chameleon_provision.state import migrations

log = logging.getLogger(__name__)
# How long a write waits for another run's transaction to finish before giving up (sqlite busy timeout).
BUSY_TIMEOUT_S = 30.0

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
    name: str | None = None  # the server's name
    auth_url: str | None = None  # the cloud the run belongs to: identity endpoint, project, region
    project_id: str | None = None
    region: str | None = None
    setup: dict[str, Any] | None = None  # the node's setup as last followed (setup.follow.SetupOutcome)
    os_cloud: str | None = None  # the clouds.yaml profile it was made with (a name, never a secret)


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
    claimed_by: str | None = None  # the run that has claimed this floating IP

    @property
    def live(self) -> bool:
        return self.status in ("creating", "created")


def _use_wal(db: sqlite3.Connection) -> None:
    # Switching the journal mode needs the file to itself, and SQLite answers "locked" at once rather than
    # waiting out the busy timeout when other runs are opening it too: so wait here, as the timeout would.
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class StateStore:
    """Opening migrates the file to the current schema (or refuses one from a newer release)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with closing(self._open()) as db:
                found = migrations.migrate(db, str(path))
                # WAL lets runs sharing a state folder read while one writes; it is a property of the
                # file, so setting it once is enough (some filesystems refuse it and stay in rollback mode).
                _use_wal(db)
        except (OSError, sqlite3.Error) as exc:
            raise StateError(f"cannot open the state database {path}: {exc}",
                             hint="set PROVISION_STATE_DIR to a writable folder") from exc
        if found != migrations.LATEST:
            log.info("state database %s migrated from schema version %d to %d", path, found,
                     migrations.LATEST)

    def _open(self) -> sqlite3.Connection:
        # Autocommit mode: transactions are opened explicitly, so a write takes its lock up front.
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        db.row_factory = sqlite3.Row
        return db

    @contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection; with write=True, inside one transaction that already holds the write lock.

        BEGIN IMMEDIATE waits (up to the busy timeout) for the lock instead of starting as a reader and
        failing at once with "database is locked" when it later needs to write.
        """
        with closing(self._open()) as db:
            if not write:
                yield db
                return
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                if db.in_transaction:  # some errors (a full disk) have already rolled it back
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # runs
    def new_run(self, run_id: str, *, source: str, commit_sha: str | None, site: str, mode: str,
                name: str | None = None, auth_url: str | None = None, project_id: str | None = None,
                region: str | None = None) -> None:
        now = _now()
        with self._connect(write=True) as db:
            db.execute("INSERT INTO runs (run_id, created_at, updated_at, source, commit_sha, site, mode, status,"
                       " name, auth_url, project_id, region) VALUES (?, ?, ?, ?, ?, ?, ?, 'started', ?, ?, ?, ?)",
                       (run_id, now, now, source, commit_sha, site, mode, name, auth_url, project_id, region))

    def update_run(self, run_id: str, **fields: Any) -> None:
        allowed = {"status", "lease_end", "ssh_command", "plan_json", "site", "commit_sha",
                   "name", "auth_url", "project_id", "region", "setup_json", "os_cloud"}
        if not fields.keys() <= allowed:
            raise ValueError(f"unknown run fields {set(fields) - allowed}")
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self._connect(write=True) as db:
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
        with self._connect(write=True) as db:
            cur = db.execute("INSERT INTO resources (run_id, kind, name, site, status, detail, created_at, updated_at)"
                             " VALUES (?, ?, ?, ?, 'creating', ?, ?, ?)",
                             (run_id, kind, name, site, json.dumps(detail or {}), now, now))
            return int(cur.lastrowid or 0)

    def mark(self, row_id: int, status: str, *, cloud_id: str | None = None,
             detail: dict[str, Any] | None = None) -> None:
        with self._connect(write=True) as db:
            if detail is not None:
                old = db.execute("SELECT detail FROM resources WHERE id = ?", (row_id,)).fetchone()
                merged = {**json.loads(old["detail"] or "{}"), **detail} if old else detail
                db.execute("UPDATE resources SET detail = ? WHERE id = ?", (json.dumps(merged), row_id))
            db.execute("UPDATE resources SET status = ?, cloud_id = COALESCE(?, cloud_id), updated_at = ? WHERE id = ?",
                       (status, cloud_id, _now(), row_id))

    def resources(self, run_id: str | None = None) -> list[ResourceRecord]:
        query, args = "SELECT * FROM resources", []
        if run_id is not None:
            query, args = query + " WHERE run_id = ?", [run_id]
        with self._connect() as db:
            return [_resource(r) for r in db.execute(query + " ORDER BY id", args)]

    def live_resources(self, run_id: str) -> list[ResourceRecord]:
        """What a teardown must remove, in an order that never strands anything."""
        live = [r for r in self.resources(run_id) if r.live]
        return sorted(live, key=lambda r: (TEARDOWN_ORDER.index(r.kind) if r.kind in TEARDOWN_ORDER else 99, -r.id))


def _run(row: sqlite3.Row) -> RunRecord:
    return RunRecord(run_id=row["run_id"], created_at=row["created_at"], source=row["source"],
                     commit_sha=row["commit_sha"], site=row["site"], mode=row["mode"], status=row["status"],
                     lease_end=row["lease_end"], ssh_command=row["ssh_command"], name=row["name"],
                     auth_url=row["auth_url"], project_id=row["project_id"], region=row["region"],
                     setup=json.loads(row["setup_json"]) if row["setup_json"] else None,
                     os_cloud=row["os_cloud"])


def _resource(row: sqlite3.Row) -> ResourceRecord:
    return ResourceRecord(id=row["id"], run_id=row["run_id"], kind=row["kind"], name=row["name"], site=row["site"],
                          cloud_id=row["cloud_id"], status=row["status"], detail=json.loads(row["detail"] or "{}"),
                          claimed_by=row["claimed_by"])


# Runs whose leftover address another run of this state directory may take over.
_OVER = ("failed", "interrupted", "cleaned", "destroy-incomplete")


def claim_leftover_address(store: StateStore, candidates: Iterable[str], to_run: str) -> str | None:
    """Atomically take one floating IP id from `candidates` that an earlier, finished run of this state directory
    created and left behind; None when there is none. Two runs never get the same address, and addresses
    this directory did not create (a collaborator's, another machine's) are never among them.
    """
    wanted = list(candidates)
    if not wanted:
        return None
    marks = ", ".join("?" * len(wanted))
    states = ", ".join("?" * len(_OVER))
    with store._connect(write=True) as db:
        row = db.execute(
            f"SELECT r.id, r.cloud_id FROM resources r JOIN runs ON runs.run_id = r.run_id "
            f"WHERE r.kind = 'floating_ip' AND r.status = 'created' AND r.claimed_by IS NULL AND r.run_id != ? "
            f"AND r.cloud_id IN ({marks}) AND runs.status IN ({states}) ORDER BY r.id LIMIT 1",
            (to_run, *wanted, *_OVER)).fetchone()
        if row is None:
            return None
        db.execute("UPDATE resources SET claimed_by = ?, status = 'handed_over', updated_at = ? WHERE id = ?",
                   (to_run, _now(), row["id"]))
        return str(row["cloud_id"])
