from __future__ import annotations

from pathlib import Path

import pytest

from chameleon_provision.errors import OpenStackError, StateError
from chameleon_provision.state.recorder import Recorder
from chameleon_provision.state.store import StateStore, hand_over


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
        raise OpenStackError("refused", returncode=1)
    with pytest.raises(OpenStackError), rec.creating("server", "b", "CHI@UC"):
        raise OpenStackError("timed out")  # no return code: we cannot know whether it exists
    assert [(r.name, r.status) for r in store.resources("r1")] == [("a", "failed"), ("b", "creating")]
    assert [r.name for r in store.live_resources("r1")] == ["b"]


def test_teardown_order_servers_first(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    store.new_run("r1", source="x", commit_sha=None, site="CHI@UC", mode="provision")
    for kind in ("keypair", "lease", "server", "floating_ip"):
        store.mark(store.intend("r1", kind, kind, "CHI@UC"), "created", cloud_id=kind)
    assert [r.kind for r in store.live_resources("r1")] == ["server", "floating_ip", "lease", "keypair"]


def test_hand_over_moves_ownership(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    for run in ("old", "new"):
        store.new_run(run, source="x", commit_sha=None, site="CHI@UC", mode="provision")
    store.mark(store.intend("old", "floating_ip", "fip", "CHI@UC"), "created", cloud_id="F1")
    hand_over(store, "floating_ip", "F1", "new")
    assert store.live_resources("old") == []


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
