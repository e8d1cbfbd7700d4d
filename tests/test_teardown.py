"""Removing a run's resources (pipeline.teardown) against a real state store and a fake cloud."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chameleon_provision.cloud.operations import FloatingIP, Server
from chameleon_provision.errors import OpenStackError
from chameleon_provision.pipeline.teardown import manual_command, teardown
from chameleon_provision.state.store import ResourceRecord, StateStore

UC, TACC = "CHI@UC", "CHI@TACC"
LEASE_ID = "0a2723d2-4cd5-44db-aa3a-8825d3707ef1"

pytestmark = pytest.mark.usefixtures("no_in_flight_grace")


class FakeCloud:
    """A site's servers, leases and addresses; deletes remove them unless `errors` or `sticky` say otherwise.

    `errors` maps an id to the OpenStackError its delete raises; `sticky` ids stay listed after a delete
    (with `sticky_status`), as a resource the cloud refuses to let go of.
    """

    def __init__(self, site: str, log: list[tuple[str, str, str]], *, servers: tuple[Server, ...] = (),
                 leases: tuple[dict[str, str], ...] = (), fips: tuple[FloatingIP, ...] = (),
                 errors: dict[str, OpenStackError] | None = None, sticky: tuple[str, ...] = (),
                 sticky_status: str = "ACTIVE") -> None:
        self.site, self.log = site, log
        self.servers_, self.leases_, self.fips = list(servers), [dict(x) for x in leases], list(fips)
        self.errors, self.sticky, self.sticky_status = errors or {}, sticky, sticky_status

    def _call(self, what: str, ref: str) -> None:
        self.log.append((self.site, what, ref))
        if ref in self.errors:
            raise self.errors[ref]

    def servers(self) -> list[Server]:
        return list(self.servers_)

    def leases(self) -> list[dict[str, str]]:
        return [dict(x) for x in self.leases_]

    def floating_ips(self) -> list[FloatingIP]:
        return list(self.fips)

    def server_delete(self, ref: str) -> None:
        self._call("server_delete", ref)
        if ref in self.sticky:
            self.servers_ = [Server(s.id, s.name, self.sticky_status, {}) if s.id == ref else s for s in self.servers_]
        else:
            self.servers_ = [s for s in self.servers_ if s.id != ref]

    def floating_ip_delete(self, ref: str) -> None:
        self._call("floating_ip_delete", ref)
        self.fips = [f for f in self.fips if f.id != ref]

    def lease_delete(self, ref: str) -> None:
        self._call("lease_delete", ref)
        for lease in self.leases_:
            if lease["id"] == ref:
                lease["status"] = self.sticky_status if ref in self.sticky else "DELETING"


def server(sid: str, name: str = "prov-server") -> Server:
    return Server(sid, name, "ACTIVE", {})


def lease(lid: str, name: str = "prov-lease", status: str = "ACTIVE") -> dict[str, str]:
    return {"id": lid, "name": name, "status": status}


def cli_error(stderr: str) -> OpenStackError:
    return OpenStackError(f"`openstack x` failed: {stderr}", command="x", stderr=stderr, returncode=1)


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    s = StateStore(tmp_path / "state.db")
    s.new_run("r1", source="./repo", commit_sha=None, site=UC, mode="provision")
    return s


def add(store: StateStore, kind: str, name: str, cloud_id: str | None, site: str = UC,
        status: str = "created", **detail: Any) -> int:
    row = store.intend("r1", kind, name, site, detail or None)
    if status != "creating":
        store.mark(row, status, cloud_id=cloud_id)
    return row


def statuses(store: StateStore) -> dict[str, str]:
    return {r.kind: r.status for r in store.resources("r1")}


def deletes(log: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    return [(what, ref) for _, what, ref in log]


def test_server_goes_before_its_address_before_the_lease_and_keypairs_stay(store: StateStore) -> None:
    for kind, ref in (("keypair", "key"), ("lease", LEASE_ID), ("server", "S1"), ("floating_ip", "F1")):
        add(store, kind, f"prov-{kind}", ref)
    log: list[tuple[str, str, str]] = []
    messages: list[str] = []
    cloud = FakeCloud(UC, log, servers=(server("S1"),), leases=(lease(LEASE_ID),),
                      fips=(FloatingIP("F1", "192.5.87.10", None),))
    result = teardown(store, "r1", lambda site: cloud, messages.append, poll=0)
    assert deletes(log) == [("server_delete", "S1"), ("floating_ip_delete", "F1"), ("lease_delete", LEASE_ID)]
    assert result.removed == ("server S1", "floating_ip F1", f"lease {LEASE_ID}") and result.left == ()
    assert statuses(store) == {"keypair": "created", "lease": "deleted", "server": "deleted",
                               "floating_ip": "deleted"}
    assert messages[0] == "removed server S1"


def test_each_resource_is_deleted_at_its_own_site(store: StateStore) -> None:
    add(store, "server", "s", "S1", UC)
    add(store, "lease", "l", "L1", TACC)
    log: list[tuple[str, str, str]] = []
    clouds = {UC: FakeCloud(UC, log, servers=(server("S1"),)), TACC: FakeCloud(TACC, log, leases=(lease("L1"),))}
    teardown(store, "r1", clouds.__getitem__, poll=0)
    assert [(site, ref) for site, _, ref in log] == [(UC, "S1"), (TACC, "L1")]


def test_a_failed_delete_is_left_with_its_reason_and_the_rest_still_go(store: StateStore) -> None:
    add(store, "server", "s", "S1")
    add(store, "lease", "l", LEASE_ID)
    errors = {"S1": cli_error("ERROR: Cannot delete server S1 in state locked (HTTP 409)")}
    cloud = FakeCloud(UC, [], servers=(server("S1"),), leases=(lease(LEASE_ID),), errors=errors)
    result = teardown(store, "r1", lambda site: cloud, poll=0)
    assert result.removed == (f"lease {LEASE_ID}",)
    assert result.left == ("server S1: `openstack x` failed: ERROR: Cannot delete server S1 in state locked "
                           "(HTTP 409)",)
    assert statuses(store) == {"server": "created", "lease": "deleted"}
    assert [r.kind for r in store.live_resources("r1")] == ["server"]  # a later destroy retries it


def test_what_the_cloud_no_longer_has_counts_as_removed_without_a_delete(store: StateStore) -> None:
    add(store, "server", "s", "S1")
    add(store, "lease", "l", "L1")
    log: list[tuple[str, str, str]] = []
    cloud = FakeCloud(UC, log, leases=(lease("L1", status="TERMINATED"),))
    result = teardown(store, "r1", lambda site: cloud, poll=0)
    assert (result.removed, result.left, log) == (("server S1", "lease L1"), (), [])


@pytest.mark.parametrize("stderr", ["No Server found for S1", "Not Found (HTTP 404)", "404 everywhere"])
def test_error_text_alone_never_counts_as_gone(store: StateStore, stderr: str) -> None:
    """The server is still listed after a delete that failed with 'not found'-like text: it is left."""
    add(store, "server", "s", "S1")
    cloud = FakeCloud(UC, [], servers=(server("S1"),), errors={"S1": cli_error(stderr)})
    result = teardown(store, "r1", lambda site: cloud, poll=0)
    assert result.removed == () and result.left and statuses(store) == {"server": "created"}


def test_a_delete_the_cloud_does_not_carry_out_is_reported_left(store: StateStore) -> None:
    add(store, "server", "s", "S1")
    cloud = FakeCloud(UC, [], servers=(server("S1"),), sticky=("S1",), sticky_status="ERROR")
    result = teardown(store, "r1", lambda site: cloud, wait=0, poll=0)
    assert result.left == ("server S1: still ERROR 0 s after the delete",)


def test_only_live_rows_are_deleted(store: StateStore) -> None:
    add(store, "lease", "l", "L-old", status="failed")
    add(store, "floating_ip", "f", "F-given", status="handed_over")
    add(store, "server", "s", "S-gone", status="deleted")
    add(store, "floating_ip", "reservation:FR1", "F-res", status="with_lease")
    log: list[tuple[str, str, str]] = []
    assert teardown(store, "r1", lambda site: FakeCloud(site, log), poll=0).removed == ()
    assert log == []


def test_404_inside_an_id_is_not_mistaken_for_gone(store: StateStore) -> None:
    lid = "5a8e404c-9ad1-4c2f-916b-07f4cfaced78"
    add(store, "lease", "l", lid)
    errors = {lid: cli_error(f"ERROR: Lease {lid} cannot be deleted while it is starting (HTTP 409)")}
    cloud = FakeCloud(UC, [], leases=(lease(lid, status="STARTING"),), errors=errors)
    result = teardown(store, "r1", lambda site: cloud, poll=0)
    assert result.left and statuses(store) == {"lease": "created"}


def test_interrupted_server_create_is_found_by_its_unique_name_and_deleted_by_id(store: StateStore) -> None:
    add(store, "server", "prov-repo-r1", None, status="creating")
    log: list[tuple[str, str, str]] = []
    cloud = FakeCloud(UC, log, servers=(server("S-other", "someone-else"), server("S-mine", "prov-repo-r1")))
    assert teardown(store, "r1", lambda site: cloud, poll=0).removed == ("server prov-repo-r1",)
    assert deletes(log) == [("server_delete", "S-mine")]


def test_two_servers_with_the_run_name_are_left_alone(store: StateStore) -> None:
    add(store, "server", "my-name", None, status="creating")
    log: list[tuple[str, str, str]] = []
    cloud = FakeCloud(UC, log, servers=(server("S1", "my-name"), server("S2", "my-name")))
    result = teardown(store, "r1", lambda site: cloud, poll=0)
    assert log == [] and "2 servers are named 'my-name'" in result.left[0]


def test_interrupted_address_create_is_found_by_its_description(store: StateStore) -> None:
    add(store, "floating_ip", "chameleon-provision run r1", None, status="creating")
    fips = (FloatingIP("F-other", "192.5.87.9", None, description="chameleon-provision run r0"),
            FloatingIP("F-mine", "192.5.87.10", None, description="chameleon-provision run r1"))
    log: list[tuple[str, str, str]] = []
    result = teardown(store, "r1", lambda site: FakeCloud(site, log, fips=fips), poll=0)
    assert deletes(log) == [("floating_ip_delete", "F-mine")]
    assert result.removed == ("floating_ip chameleon-provision run r1",)


def test_interrupted_address_create_that_never_reached_the_cloud_is_closed(store: StateStore) -> None:
    add(store, "floating_ip", "chameleon-provision run r1", None, status="creating")
    log: list[tuple[str, str, str]] = []
    teardown(store, "r1", lambda site: FakeCloud(site, log), poll=0)
    assert log == [] and statuses(store) == {"floating_ip": "deleted"}


def test_address_without_id_is_found_by_its_recorded_address(store: StateStore) -> None:
    add(store, "floating_ip", "chameleon-provision run r1", None, status="creating", address="192.5.87.10")
    log: list[tuple[str, str, str]] = []
    fips = (FloatingIP("F7", "192.5.87.10", None, description=""),)
    teardown(store, "r1", lambda site: FakeCloud(site, log, fips=fips), poll=0)
    assert deletes(log) == [("floating_ip_delete", "F7")]


def record(kind: str, name: str, cloud_id: str | None) -> ResourceRecord:
    return ResourceRecord(1, "r1", kind, name, UC, cloud_id, "created", {})


@pytest.mark.parametrize(("kind", "cloud_id", "expected"), [
    ("server", "S1", "openstack server delete S1"),
    ("server", None, "openstack server delete prov-x"),
    ("floating_ip", "F1", "openstack floating ip delete F1"),
    ("lease", LEASE_ID, f"openstack reservation lease delete {LEASE_ID}"),
    ("keypair", None, "openstack keypair delete prov-x"),
    ("volume", "V1", "# volume V1"),
])
def test_manual_command_uses_the_id_else_the_name(kind: str, cloud_id: str | None, expected: str) -> None:
    assert manual_command(record(kind, "prov-x", cloud_id)) == expected


def test_an_interrupted_create_still_in_flight_is_waited_for(store: StateStore,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl+C does not stop a request already sent: the lease appears a moment after the interrupt."""
    monkeypatch.setattr("chameleon_provision.pipeline.teardown.IN_FLIGHT_GRACE", 5.0)
    add(store, "lease", "prov-lease-r1", None, status="creating")
    log: list[tuple[str, str, str]] = []
    cloud = FakeCloud(UC, log)
    reads = {"n": 0}
    real = cloud.leases

    def late() -> list[dict[str, str]]:
        reads["n"] += 1
        if reads["n"] == 3:
            cloud.leases_.append(lease("L-late", "prov-lease-r1"))
        return real()

    cloud.leases = late  # type: ignore[method-assign]
    result = teardown(store, "r1", lambda site: cloud, poll=0.01)
    assert deletes(log) == [("lease_delete", "L-late")] and result.left == ()
