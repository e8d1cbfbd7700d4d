from __future__ import annotations

import multiprocessing
import queue
import sqlite3
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from chameleon_provision.errors import ExitCode, OpenStackError, StateError
from chameleon_provision.state import migrations as state_migrations
from chameleon_provision.state.recorder import Recorder
from chameleon_provision.state.store import StateStore, claim_leftover_address

# The layout every user's database had before the schema carried a version: copied verbatim from the
# release that created it, so the migration is tested against real files, not against itself.
V0_LAYOUT = """
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


def user_version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def columns(path: Path, table: str) -> list[str]:
    db = sqlite3.connect(path)
    try:
        return [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
    finally:
        db.close()


def test_resources_are_recorded_before_create_and_confirmed_after(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    store.new_run("r1", source="./repo", commit_sha=None, site="CHI@UC", mode="provision")
    rec = Recorder(store, "r1")
    with rec.creating("lease", "prov-lease", "CHI@UC") as confirm:
        assert store.resources("r1")[0].status == "creating"  # on disk before the create call returns
        confirm("L1")
    (row,) = store.resources("r1")
    assert (row.status, row.cloud_id) == ("created", "L1")


def test_failed_create_is_not_live_but_interrupted_one_is(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    store.new_run("r1", source="x", commit_sha=None, site="CHI@UC", mode="provision")
    rec = Recorder(store, "r1")
    with pytest.raises(OpenStackError), rec.creating("lease", "a", "CHI@UC"):
        raise OpenStackError("ERROR: Not enough resources available with query [...]", returncode=1)
    with pytest.raises(OpenStackError), rec.creating("server", "b", "CHI@UC"):
        raise OpenStackError("timed out")  # no return code: we cannot know whether it exists
    assert [(r.name, r.status) for r in store.resources("r1")] == [("a", "failed"), ("b", "creating")]
    assert [r.name for r in store.live_resources("r1")] == ["b"]
    # A create whose follow-up read failed may well have made the resource: the row stays for teardown to check.
    with pytest.raises(OpenStackError), rec.creating("server", "c", "CHI@UC"):
        raise OpenStackError("No Server found for 8c1e: Server Error for url: http://x/servers/8c1e, 500", returncode=1)
    assert [r.name for r in store.live_resources("r1")] == ["c", "b"]


def test_teardown_order_servers_first(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    store.new_run("r1", source="x", commit_sha=None, site="CHI@UC", mode="provision")
    for kind in ("keypair", "lease", "server", "floating_ip"):
        store.mark(store.intend("r1", kind, kind, "CHI@UC"), "created", cloud_id=kind)
    assert [r.kind for r in store.live_resources("r1")] == ["server", "floating_ip", "lease", "keypair"]


def test_a_claimed_address_leaves_the_run_that_made_it(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    for run in ("old", "new"):
        store.new_run(run, source="x", commit_sha=None, site="CHI@UC", mode="provision")
    store.mark(store.intend("old", "floating_ip", "fip", "CHI@UC"), "created", cloud_id="F1")
    store.update_run("old", status="failed")
    assert claim_leftover_address(store, ["F1", "F9"], "new") == "F1"
    assert store.live_resources("old") == [] and claim_leftover_address(store, ["F1"], "other") is None


def test_unknown_run_and_unwritable_dir(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    with pytest.raises(StateError, match="no run 'nope'") as info:
        store.run("nope")
    assert "provision status" in (info.value.hint or "")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StateError) as info:
        StateStore(blocker / "sub" / "s.db")
    assert "PROVISION_STATE_DIR" in (info.value.hint or "")


def test_unversioned_database_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(V0_LAYOUT)
    db.execute("INSERT INTO runs VALUES ('old', '2025-01-02T03:04:05Z', '2025-01-02T03:04:05Z', 'https://x/a/b',"
               " 'abc123', 'CHI@UC', 'provision', 'ready', '2025-01-03T00:00:00Z', 'ssh cc@192.0.2.7', '{\"k\": 1}')")
    db.execute("INSERT INTO resources (run_id, kind, name, site, cloud_id, status, detail, created_at, updated_at)"
               " VALUES ('old', 'floating_ip', 'fip', 'CHI@UC', 'F1', 'created', '{\"address\": \"192.0.2.7\"}',"
               " '2025-01-02T03:04:05Z', '2025-01-02T03:04:05Z')")
    db.commit()
    db.close()
    assert user_version(path) == 0

    store = StateStore(path)

    assert user_version(path) == state_migrations.LATEST
    assert {"auth_url", "project_id", "region", "name"} <= set(columns(path, "runs"))
    assert "claimed_by" in columns(path, "resources")
    run = store.run("old")
    assert (run.source, run.commit_sha, run.status, run.ssh_command) == ("https://x/a/b", "abc123", "ready",
                                                                         "ssh cc@192.0.2.7")
    assert (run.name, run.auth_url, run.project_id, run.region) == (None, None, None, None)
    assert store.plan("old") == {"k": 1}
    (fip,) = store.live_resources("old")
    assert (fip.cloud_id, fip.detail, fip.claimed_by) == ("F1", {"address": "192.0.2.7"}, None)
    store.update_run("old", auth_url="https://chi.uc.chameleoncloud.org:5000/v3", project_id="p1",
                     region="CHI@UC", name="prov-old")
    run = store.run("old")
    assert (run.auth_url, run.project_id, run.region, run.name) == (
        "https://chi.uc.chameleoncloud.org:5000/v3", "p1", "CHI@UC", "prov-old")
    assert run.setup is None  # migration 3: the node's setup as last seen
    store.update_run("old", setup_json='{"state": "failed", "failed_step": "conda"}')
    assert store.run("old").setup == {"state": "failed", "failed_step": "conda"}


def test_fresh_database_reaches_latest_and_reopening_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state" / "runs.sqlite3"
    store = StateStore(path)
    assert user_version(path) == state_migrations.LATEST
    store.new_run("r1", source="x", commit_sha=None, site="CHI@UC", mode="provision", name="srv",
                  auth_url="https://kvm/v3", project_id="p", region="KVM@TACC")
    store.intend("r1", "lease", "lease-1", "CHI@UC")
    layout = {t: columns(path, t) for t in ("runs", "resources")}
    for _ in range(3):
        again = StateStore(path)
    assert user_version(path) == state_migrations.LATEST
    assert {t: columns(path, t) for t in ("runs", "resources")} == layout
    assert again.run("r1").region == "KVM@TACC" and len(again.resources("r1")) == 1
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_database_from_a_newer_release_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    StateStore(path)
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {state_migrations.LATEST + 1}")
    db.close()
    with pytest.raises(StateError, match="made by a newer chameleon-provision") as info:
        StateStore(path)
    assert "upgrade" in str(info.value) and info.value.exit_code == ExitCode.STATE == 14
    assert user_version(path) == state_migrations.LATEST + 1


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE runs (id INTEGER)")
    db.close()
    with pytest.raises(StateError, match="not a chameleon-provision state database"):
        StateStore(path)
    assert user_version(path) == 0


def test_failed_migration_leaves_the_old_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "runs.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(V0_LAYOUT)
    db.close()
    broken = (*state_migrations.MIGRATIONS[:-1], (*state_migrations.MIGRATIONS[-1], "ALTER TABLE nope ADD x"))
    monkeypatch.setattr(state_migrations, "MIGRATIONS", broken)
    with pytest.raises(StateError, match="nope"):
        StateStore(path)
    assert user_version(path) == 0 and "claimed_by" not in columns(path, "resources")  # one transaction


def _writer(path: str, worker: int, start: Barrier, errors: multiprocessing.Queue[str]) -> None:
    try:
        start.wait(300)  # spawned interpreters can take a while to start on a loaded machine
        store = StateStore(Path(path))  # all open a brand-new file at once: they race to migrate it
        for i in range(15):
            run = f"w{worker}-{i}"
            store.new_run(run, source="x", commit_sha=None, site="CHI@UC", mode="provision")
            row = store.intend(run, "lease", f"lease-{run}", "CHI@UC")
            store.mark(row, "created", cloud_id=run, detail={"n": i})
            store.update_run(run, status="ready", region="CHI@UC")
            store.runs()
    except Exception as exc:  # reported to the parent, which fails the test with it
        errors.put(f"{worker}: {exc!r}")


def test_concurrent_runs_share_one_database(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    path, workers = tmp_path / "runs.sqlite3", 8
    start, errors = ctx.Barrier(workers), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(str(path), n, start, errors)) for n in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(400)
    problems = []
    while True:
        try:
            problems.append(errors.get(timeout=0.2))
        except queue.Empty:
            break
    assert problems == [] and [p.exitcode for p in procs] == [0] * workers
    store = StateStore(path)
    assert len(store.runs()) == workers * 15
    assert {r.status for r in store.resources()} == {"created"} and len(store.resources()) == workers * 15
