"""The public address (cloud.network_manager): reuse of our own unattached IPs, creation, hand-over, attach."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from chameleon_provision.cloud.network_manager import (
    acquire_address,
    attach_address,
    description,
    plan_reserved_address,
    reserved_address,
    reusable_address,
)
from chameleon_provision.cloud.operations import FloatingIP, Server
from chameleon_provision.errors import OpenStackError, ProvisioningFailed
from chameleon_provision.pipeline.teardown import teardown
from chameleon_provision.state.recorder import Recorder
from chameleon_provision.state.store import StateStore

UC = "CHI@UC"
OURS_OLD = FloatingIP("F-old", "192.5.87.10", None, description="chameleon-provision run old")

pytestmark = pytest.mark.usefixtures("no_in_flight_grace")


class FakeCloud:
    def __init__(self, *fips: FloatingIP, create_error: OpenStackError | None = None,
                 shows: tuple[str, ...] = ()) -> None:
        self.fips, self.create_error, self.shows = list(fips), create_error, shows
        self.calls: list[tuple[str, ...]] = []
        self.on_create = lambda: None

    def floating_ips(self) -> list[FloatingIP]:
        return list(self.fips)

    def floating_ip_create(self, network: str, desc: str) -> FloatingIP:
        self.calls.append(("create", network, desc))
        self.on_create()
        if self.create_error:
            raise self.create_error
        fip = FloatingIP("F-new", "192.5.87.77", None, description=desc)
        self.fips.append(fip)
        return fip

    def floating_ip_delete(self, ref: str) -> None:
        self.calls.append(("delete", ref))
        self.fips = [f for f in self.fips if f.id != ref]

    def server_add_floating_ip(self, server_id: str, address: str) -> None:
        self.calls.append(("attach", server_id, address))

    def server_show(self, server_id: str) -> Server:
        return Server(server_id, "srv", "ACTIVE", {"sharednet1": ("10.140.0.5", *self.shows)})


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    s = StateStore(tmp_path / "state.db")
    for run in ("old", "new"):
        s.new_run(run, source="./repo", commit_sha=None, site=UC, mode="provision")
    return s


def leave_address(store: StateStore, run: str, fip: FloatingIP, run_status: str = "failed") -> None:
    store.mark(store.intend(run, "floating_ip", fip.description, UC), "created", cloud_id=fip.id)
    store.update_run(run, status=run_status)


def test_only_an_unattached_address_a_finished_run_here_left_is_reusable(store: StateStore) -> None:
    attached = FloatingIP("F1", "192.5.87.1", "port-1", description="chameleon-provision run a")
    foreign = FloatingIP("F2", "192.5.87.2", None, description="my lab address")
    blank = FloatingIP("F3", "192.5.87.3", None)
    not_recorded = FloatingIP("F5", "192.5.87.5", None, description="chameleon-provision run elsewhere")
    assert reusable_address(FakeCloud(attached, foreign, blank, not_recorded), store, "new") is None
    empty_port = FloatingIP("F4", "192.5.87.4", "", description="chameleon-provision run b")
    leave_address(store, "old", empty_port)
    assert reusable_address(FakeCloud(attached, foreign, empty_port, not_recorded), store, "new") == empty_port


def test_an_address_of_a_run_still_in_flight_is_not_taken(store: StateStore) -> None:
    leave_address(store, "old", OURS_OLD, run_status="started")
    assert reusable_address(FakeCloud(OURS_OLD), store, "new") is None


def test_two_runs_never_claim_the_same_address(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    store.new_run("old", source="./repo", commit_sha=None, site=UC, mode="provision")
    leave_address(store, "old", OURS_OLD)
    won: list[FloatingIP | None] = []
    runs = [f"new{i}" for i in range(8)]

    def take(run: str) -> None:
        won.append(reusable_address(FakeCloud(OURS_OLD), store, run))

    threads = [threading.Thread(target=take, args=(run,)) for run in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [w for w in won if w is not None] == [OURS_OLD]


def test_the_plan_reserves_the_address_in_the_lease() -> None:
    plan = plan_reserved_address()
    assert (plan.action, plan.address) == ("reserve", None) and "ad hoc" in plan.reason


def test_the_reserved_address_is_found_by_its_reservation_tag_and_left_to_the_lease(store: StateStore) -> None:
    cloud = FakeCloud()
    tagged = FloatingIP("F-res", "192.5.87.200", None, description="reservation:FR1")
    calls = iter([[], [tagged]])  # Blazar creates it as the lease starts: not there on the first look
    cloud.reserved_floating_ips = lambda rid: next(calls) if rid == "FR1" else []  # type: ignore[attr-defined]
    fip = reserved_address(cloud, Recorder(store, "new"), UC, "FR1", timeout=5, poll=0)  # type: ignore[arg-type]
    assert fip.address == "192.5.87.200"
    [row] = store.resources("new")
    assert (row.kind, row.cloud_id, row.status, row.live) == ("floating_ip", "F-res", "with_lease", False)


def test_acquire_reuses_and_hands_the_address_over_from_the_earlier_run(store: StateStore) -> None:
    leave_address(store, "old", OURS_OLD)
    cloud = FakeCloud(OURS_OLD)
    fip = acquire_address(cloud, Recorder(store, "new"), store, UC, "public")
    assert fip == OURS_OLD and cloud.calls == []  # nothing created
    (old,) = store.resources("old")
    assert (old.status, old.claimed_by) == ("handed_over", "new")
    (new,) = store.resources("new")
    assert (new.status, new.cloud_id, new.detail) == ("created", "F-old", {"address": "192.5.87.10", "reused": True})


def test_destroying_the_earlier_run_keeps_a_handed_over_address(store: StateStore) -> None:
    leave_address(store, "old", OURS_OLD)
    cloud = FakeCloud(OURS_OLD)
    acquire_address(cloud, Recorder(store, "new"), store, UC, "public")
    assert teardown(store, "old", lambda _site: cloud, poll=0).removed == ()
    assert teardown(store, "new", lambda _site: cloud, poll=0).removed == ("floating_ip F-old",)
    assert cloud.calls == [("delete", "F-old")]


def test_acquire_creates_a_new_address_recorded_before_the_call(store: StateStore) -> None:
    cloud = FakeCloud(FloatingIP("F1", "192.5.87.1", "port-1", description="chameleon-provision run a"))
    seen: list[str] = []
    cloud.on_create = lambda: seen.extend(r.status for r in store.resources("new"))
    fip = acquire_address(cloud, Recorder(store, "new"), store, UC, "public")
    assert cloud.calls == [("create", "public", description("new"))]
    assert seen == ["creating"]
    (row,) = store.resources("new")
    assert (row.name, row.status, row.cloud_id, row.detail) == (description("new"), "created", fip.id,
                                                                {"address": "192.5.87.77"})


@pytest.mark.parametrize("error", ["No more IP addresses available on network public", "Quota exceeded for floatingip"])
def test_exhausted_pool_is_provisioning_failed_with_a_hint(store: StateStore, error: str) -> None:
    cloud = FakeCloud(create_error=OpenStackError(f"`openstack floating ip create` failed: {error}", returncode=1))
    with pytest.raises(ProvisioningFailed, match=f"no floating IP available at CHI@UC: .*{error}") as info:
        acquire_address(cloud, Recorder(store, "new"), store, UC, "public")
    assert "openstack floating ip delete" in (info.value.hint or "")
    assert [r.status for r in store.resources("new")] == ["failed"]


def test_other_create_errors_pass_through_unchanged(store: StateStore) -> None:
    error = OpenStackError("`openstack floating ip create` failed: Network public not found", returncode=1)
    with pytest.raises(OpenStackError) as info:
        acquire_address(FakeCloud(create_error=error), Recorder(store, "new"), store, UC, "public")
    assert info.value is error


def test_interrupted_create_stays_live_and_is_found_by_teardown(store: StateStore) -> None:
    cloud = FakeCloud(create_error=OpenStackError("`openstack floating ip create` did not finish within 120 s"))
    with pytest.raises(OpenStackError):
        acquire_address(cloud, Recorder(store, "new"), store, UC, "public")
    assert [r.status for r in store.resources("new")] == ["creating"]
    cloud.fips.append(FloatingIP("F-late", "192.5.87.78", None, description=description("new")))
    assert teardown(store, "new", lambda _site: cloud, poll=0).left == ()
    assert cloud.calls[-1] == ("delete", "F-late")


def test_attach_adds_exactly_this_address_and_checks_the_server_shows_it() -> None:
    fip = FloatingIP("F1", "192.5.87.10", None)
    cloud = FakeCloud(shows=("192.5.87.10",))
    attach_address(cloud, "S1", fip)
    assert cloud.calls == [("attach", "S1", "192.5.87.10")]


def test_attach_fails_when_the_server_does_not_show_the_address() -> None:
    with pytest.raises(ProvisioningFailed, match=re.escape("192.5.87.10 was attached but server S1 does not show it")):
        attach_address(FakeCloud(shows=("192.5.87.99",)), "S1", FloatingIP("F1", "192.5.87.10", None))
