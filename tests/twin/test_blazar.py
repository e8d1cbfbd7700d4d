"""The twin's Blazar: host filters, Chameleon's limits and messages, lazy lease states, hooks."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from chameleon_twin import inventory
from chameleon_twin.balance import BalanceService
from chameleon_twin.blazar import BlazarService
from chameleon_twin.blazar_fips import FloatingIpPool
from chameleon_twin.clock import Clock
from chameleon_twin.http import Request, Response

PROJECT = {"x-twin-project-id": "p1", "x-twin-user-id": "u1", "x-twin-project-name": "CHI-000000"}
UC_HOSTS = inventory.blazar_hosts("uc")
TYPE_OF = {h["id"]: h["node_type"] for h in UC_HOSTS}
THREADS_OF = {h["id"]: h.get("architecture.smt_size") for h in UC_HOSTS}
RESERVED = [f"192.5.86.{n}" for n in range(2, 7)]  # a pool of five reservable addresses on network "NET"


class Hooks:
    def __init__(self) -> None:
        self.reserved: list[tuple[str, str, list[str]]] = []
        self.released: list[tuple[str, list[str]]] = []

    def reserve_floating_ips(self, reservation_id: str, network_id: str, addresses: list[str]) -> None:
        self.reserved.append((reservation_id, network_id, addresses))

    def release_reservation(self, reservation_id: str, hostnames: list[str]) -> None:
        self.released.append((reservation_id, hostnames))


@pytest.fixture
def clock() -> Clock:
    # Real pace (STARTING lasts 60 s) so nothing moves on its own; tests jump with clock.advance.
    return Clock(speed=1)


@pytest.fixture
def hooks() -> Hooks:
    return Hooks()


@pytest.fixture
def blazar(clock: Clock, hooks: Hooks) -> BlazarService:
    return BlazarService("CHI@UC", UC_HOSTS, clock, hooks, fips=FloatingIpPool("NET", RESERVED),
                         balance=BalanceService())


def call(blazar: BlazarService, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
         **query: str) -> Response:
    return blazar.handle(Request(method, path, query={k: [v] for k, v in query.items()}, body=body,
                                 headers=PROJECT if headers is None else headers))


def fmt(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M")


def host_res(props: str = "", count: int = 1, **extra: Any) -> dict[str, Any]:
    return {"resource_properties": props, "resource_type": "physical:host", "max": count, "min": count,
            "hypervisor_properties": "", **extra}


def node_type(kind: str) -> str:
    return f'["==", "$node_type", "{kind}"]'


def create(blazar: BlazarService, *reservations: dict[str, Any], start: str = "now", end: str | None = None,
           hours: float = 3, name: str = "lease") -> Response:
    if end is None:
        end = fmt(blazar.clock.now() + timedelta(hours=hours))
    body = {"name": name, "start_date": start, "end_date": end, "reservations": list(reservations) or [host_res()],
            "events": [], "before_end_date": None}
    return call(blazar, "POST", "/leases", body)


def created(blazar: BlazarService, *reservations: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    resp = create(blazar, *reservations, **kwargs)
    assert resp.status == 201, resp.body
    return resp.body["lease"]


def hosts_of(blazar: BlazarService, lease: dict[str, Any]) -> list[str]:
    resp = call(blazar, "GET", "/os-hosts/allocations", lease_id=lease["id"])
    return [a["resource_id"] for a in resp.body["allocations"] if a["reservations"]]


def status(blazar: BlazarService, lease_id: str) -> str:
    return call(blazar, "GET", f"/leases/{lease_id}").body["lease"]["status"]


# -- lease JSON ----------------------------------------------------------------------------------

def test_create_answers_the_upstream_shape(blazar: BlazarService) -> None:
    fip = {"amount": 1, "network_id": "NET", "resource_type": "virtual:floatingip", "required_floatingips": []}
    lease = created(blazar, host_res(node_type("gpu_rtx_6000")), fip, name="my-lease")
    assert list(lease) == ["id", "name", "start_date", "end_date", "status", "degraded", "user_id", "project_id",
                           "trust_id", "created_at", "updated_at", "reservations", "events"]
    assert lease["status"] == "PENDING" and lease["updated_at"] is None
    assert (lease["user_id"], lease["project_id"], lease["name"]) == ("u1", "p1", "my-lease")
    datetime.strptime(lease["start_date"], "%Y-%m-%dT%H:%M:%S.%f")
    datetime.strptime(lease["created_at"], "%Y-%m-%d %H:%M:%S")
    host, ip = lease["reservations"]
    assert set(host) == {"id", "lease_id", "status", "resource_id", "resource_type", "min", "max",
                         "hypervisor_properties", "resource_properties", "missing_resources", "resources_changed",
                         "before_end", "created_at", "updated_at"}
    assert (host["status"], host["lease_id"], host["resource_properties"]) == (
        "pending", lease["id"], node_type("gpu_rtx_6000"))
    assert (ip["network_id"], ip["amount"], ip["required_floatingips"]) == ("NET", 1, [])
    assert [e["event_type"] for e in lease["events"]] == ["start_lease", "end_lease", "before_end_lease"]
    assert {e["status"] for e in lease["events"]} == {"UNDONE"}
    assert call(blazar, "GET", "/leases").body["leases"][0]["id"] == lease["id"]


# -- host filters ----------------------------------------------------------------------------------

@pytest.mark.parametrize("op", ["==", "="])
def test_node_type_filter(blazar: BlazarService, op: str) -> None:
    lease = created(blazar, host_res(f'["{op}", "$node_type", "gpu_rtx_6000"]', count=2))
    assert [TYPE_OF[h] for h in hosts_of(blazar, lease)] == ["gpu_rtx_6000", "gpu_rtx_6000"]


def test_compound_and_filter_narrows_a_mixed_type(blazar: BlazarService) -> None:
    # gpu_v100's old hosts say "V100" in gpu.gpu_model for both kinds; gpu.gpu_name tells them apart.
    props = ('["and", ["==", "$node_type", "gpu_v100"], '
             '["==", "$gpu.gpu_name", "GV100GL [Tesla V100 PCIe 32GB]"]]')
    lease = created(blazar, host_res(props))
    (host_id,) = hosts_of(blazar, lease)
    host = call(blazar, "GET", f"/os-hosts/{host_id}").body["host"]
    assert (host["gpu.gpu_model"], host["gpu.gpu_name"]) == ("V100", "GV100GL [Tesla V100 PCIe 32GB]")
    assert create(blazar, host_res(props)).status == 500  # the only PCIe V100 is taken


def test_properties_compare_as_strings(blazar: BlazarService) -> None:
    # "24" < "3" as strings, "48" is not: only the two 24-thread skylakes match.
    lease = created(blazar, host_res('["and", ["==", "$node_type", "compute_skylake"], '
                                     '["<", "$architecture.smt_size", "3"]]', count=2))
    assert [THREADS_OF[h] for h in hosts_of(blazar, lease)] == ["24", "24"]
    # "160" >= "48" is false as strings, so no A100 PCIe node (160 threads) matches.
    resp = create(blazar, host_res('["and", ["==", "$node_type", "gpu_a100_pcie"], '
                                   '[">=", "$architecture.smt_size", "48"]]'))
    assert resp.status == 500
    assert resp.body["error_message"].startswith("Not enough resources available with query {")


def test_empty_properties_get_chameleons_default(blazar: BlazarService) -> None:
    lease = created(blazar, host_res(""))
    assert [TYPE_OF[h] for h in hosts_of(blazar, lease)] == ["compute_skylake"]
    assert lease["reservations"][0]["resource_properties"] == ""


def test_default_is_dropped_when_it_finds_nothing(blazar: BlazarService) -> None:
    blazar.exhaust("compute_skylake")
    lease = created(blazar, host_res(""))
    assert [TYPE_OF[h] for h in hosts_of(blazar, lease)] != ["compute_skylake"]


@pytest.mark.parametrize(("props", "shown"), [
    ('["==", "$node_type", 5]', "['==', '$node_type', 5]"),
    ('[">=", "$architecture.smt_size", 48]', "['>=', '$architecture.smt_size', 48]"),
    ('["~", "$node_type", "x"]', "['~', '$node_type', 'x']"),
    ('["or", ["==", "$node_type", "a"], ["==", "$node_type", "b"]]', "['or', "),
    ('["and", ["==", "$node_type", "fpga"], ["==", "node_name", "nc64"]]', "['==', 'node_name', 'nc64']"),
    ('["==", "$node_type"', '["==", "$node_type"'),
])
def test_malformed_requirements(blazar: BlazarService, props: str, shown: str) -> None:
    resp = create(blazar, host_res(props))
    assert resp.status == 400
    assert resp.body["error_message"].startswith(f"Malformed requirements {shown}")
    assert resp.body["error_code"] == resp.body["error_name"] == 400


def test_unknown_property_is_blazars_not_found(blazar: BlazarService) -> None:
    resp = create(blazar, host_res('["==", "$no_such_thing", "x"]'))
    assert resp.status == 500
    assert resp.body["error_message"] == "no_such_thing ComputeHostExtraCapability was not found"


def test_not_enough_hosts_creates_nothing(blazar: BlazarService) -> None:
    resp = create(blazar, host_res(node_type("gpu_rtx_6000"), count=38), name="too-many")
    assert resp.status == 500
    message = resp.body["error_message"]
    assert message.startswith("Not enough resources available with query {'resource_properties': ")
    assert "'count_range': '38-38'" in message and "datetime.datetime(" in message
    assert call(blazar, "GET", "/leases").body["leases"] == []
    assert not any(a["reservations"] for a in call(blazar, "GET", "/os-hosts/allocations").body["allocations"])
    assert create(blazar, host_res(node_type("gpu_h100"))).status == 500  # a TACC-only type


# -- dates and limits ------------------------------------------------------------------------------

def test_seven_day_limit(blazar: BlazarService, clock: Clock) -> None:
    start = clock.now().replace(second=0, microsecond=0) + timedelta(minutes=5)
    resp = create(blazar, start=fmt(start), end=fmt(start + timedelta(days=7, minutes=1)))
    assert resp.status == 400
    assert resp.body["error_message"] == ("Lease duration of 604860 seconds must be less than or equal to the "
                                          "maximum lease duration of 604800 seconds.")
    assert create(blazar, start=fmt(start), end=fmt(start + timedelta(days=7))).status == 201


def test_date_checks(blazar: BlazarService, clock: Clock) -> None:
    past = clock.now() - timedelta(minutes=2)
    resp = create(blazar, start=fmt(past))
    assert (resp.status, resp.body["error_message"]) == (400, "Start date must be later than current date")
    resp = create(blazar, start=fmt(clock.now()))  # this minute is still fine (rounded down)
    assert resp.status == 201
    resp = create(blazar, start=fmt(clock.now() + timedelta(hours=2)), end=fmt(clock.now() + timedelta(hours=1)))
    assert (resp.status, resp.body["error_message"]) == (400, "End date must be later than start date.")
    resp = create(blazar, end="tomorrow")
    assert (resp.status, resp.body["error_message"]) == (
        400, "tomorrow is an invalid date. Required format: %Y-%m-%d %H:%M")


def test_missing_fields(blazar: BlazarService, clock: Clock) -> None:
    end = fmt(clock.now() + timedelta(hours=1))
    resp = call(blazar, "POST", "/leases", {"name": "x", "start_date": "now", "end_date": end, "reservations": []})
    assert (resp.status, resp.body["error_message"]) == (400, "Missing parameter reservations")
    resp = call(blazar, "POST", "/leases", {"start_date": "now", "end_date": end, "reservations": [host_res()]})
    assert (resp.status, resp.body["error_message"]) == (400, "Missing parameter name")
    resp = create(blazar, host_res(count=0))
    assert resp.status == 400


# -- states, hooks and host hand-over ---------------------------------------------------------------

def test_state_transitions_and_hooks(blazar: BlazarService, clock: Clock, hooks: Hooks) -> None:
    fip = {"amount": 2, "network_id": "NET", "resource_type": "virtual:floatingip", "required_floatingips": []}
    lease = created(blazar, host_res(node_type("gpu_rtx_6000")), fip, hours=2)
    host_rid, fip_rid = (r["id"] for r in lease["reservations"])
    assert status(blazar, lease["id"]) == "CREATING"  # others see it while Blazar writes it
    clock.advance(5)
    assert status(blazar, lease["id"]) == "STARTING"
    assert hooks.reserved == []
    clock.advance(61)
    shown = call(blazar, "GET", f"/leases/{lease['id']}").body["lease"]
    assert shown["status"] == "ACTIVE" and shown["updated_at"] is not None
    assert {r["status"] for r in shown["reservations"]} == {"active"}
    assert shown["events"][0]["status"] == "DONE"
    assert status(blazar, lease["id"]) == "ACTIVE"
    assert hooks.reserved == [(fip_rid, "NET", RESERVED[:2])]  # once, however often it is read
    clock.advance(2 * 3600 - 66)
    shown = call(blazar, "GET", f"/leases/{lease['id']}").body["lease"]
    assert shown["status"] == "TERMINATING" and shown["events"][1]["status"] == "IN_PROGRESS"
    clock.advance(3600)
    shown = call(blazar, "GET", f"/leases/{lease['id']}").body["lease"]
    assert shown["status"] == "TERMINATED"
    assert {r["status"] for r in shown["reservations"]} == {"deleted"}
    assert shown["events"][1]["status"] == "DONE"
    (hostname,) = next(names for rid, names in hooks.released if rid == host_rid)
    assert sorted(rid for rid, _ in hooks.released) == sorted([host_rid, fip_rid])
    call(blazar, "GET", "/leases")
    assert call(blazar, "DELETE", f"/leases/{lease['id']}").status == 204
    assert len(hooks.released) == 2  # already given back at the end: not again
    assert hostname in {h["hypervisor_hostname"] for h in UC_HOSTS}


def test_future_lease_waits_in_pending(blazar: BlazarService, clock: Clock) -> None:
    start = clock.now().replace(second=0, microsecond=0) + timedelta(minutes=10)
    lease = created(blazar, start=fmt(start), end=fmt(start + timedelta(hours=1)))
    assert status(blazar, lease["id"]) == "CREATING"
    clock.advance(5)
    assert status(blazar, lease["id"]) == "PENDING"
    clock.advance((start - clock.now()).total_seconds() - 1)
    assert status(blazar, lease["id"]) == "PENDING"
    clock.advance(1.2)
    assert status(blazar, lease["id"]) == "STARTING"
    clock.advance(61)
    assert status(blazar, lease["id"]) == "ACTIVE"


def test_delete_while_starting_is_refused(blazar: BlazarService, clock: Clock, hooks: Hooks) -> None:
    lease = created(blazar)
    clock.advance(5)
    resp = call(blazar, "DELETE", f"/leases/{lease['id']}")
    assert (resp.status, resp.body["error_message"]) == (409, "Cannot delete lease in state STARTING")
    clock.advance(61)
    assert call(blazar, "DELETE", f"/leases/{lease['id']}").status == 204
    assert len(hooks.released) == 1
    assert status(blazar, lease["id"]) == "DELETING"
    resp = call(blazar, "DELETE", f"/leases/{lease['id']}")
    assert (resp.status, resp.body["error_message"]) == (500, "Invalid lease status.")
    clock.advance(61)
    resp = call(blazar, "GET", f"/leases/{lease['id']}")
    assert (resp.status, resp.body["error_message"]) == (404, f"Object with {{'lease_id': '{lease['id']}'}} not found")
    assert call(blazar, "DELETE", "/leases/nope").status == 404


def test_claim_and_release_host(blazar: BlazarService, clock: Clock) -> None:
    lease = created(blazar, host_res(node_type("gpu_rtx_6000"), count=2))
    rid = lease["reservations"][0]["id"]
    assert blazar.claim_host(rid) is None  # not ACTIVE yet
    clock.advance(61)
    first, second = blazar.claim_host(rid), blazar.claim_host(rid)
    reserved = {h["hypervisor_hostname"] for h in UC_HOSTS if h["id"] in hosts_of(blazar, lease)}
    assert {first, second} == reserved
    assert blazar.claim_host(rid) is None
    assert first is not None
    blazar.release_host(first)
    assert blazar.claim_host(rid) == first
    assert blazar.claim_host("no-such-reservation") is None
    assert blazar.snapshot()["claims"] == {first: rid, second: rid}


def test_hosts_are_free_only_outside_other_leases(blazar: BlazarService, clock: Clock) -> None:
    base = clock.now().replace(second=0, microsecond=0) + timedelta(minutes=5)
    later = created(blazar, host_res(node_type("gpu_rtx_6000")), start=fmt(base + timedelta(days=1)),
                    end=fmt(base + timedelta(days=2)))
    # The host held tomorrow is still usable today: all 37 fit.
    today = created(blazar, host_res(node_type("gpu_rtx_6000"), count=37), start=fmt(base),
                    end=fmt(base + timedelta(hours=3)))
    assert hosts_of(blazar, later)[0] in hosts_of(blazar, today)
    overlap = create(blazar, host_res(node_type("gpu_rtx_6000")), start=fmt(base + timedelta(hours=1)),
                     end=fmt(base + timedelta(hours=2)))
    assert overlap.status == 500
    back_to_back = create(blazar, host_res(node_type("gpu_rtx_6000")), start=fmt(base + timedelta(hours=3)),
                          end=fmt(base + timedelta(hours=4)))
    assert back_to_back.status == 201


def test_never_allocated_hosts_are_preferred(blazar: BlazarService, clock: Clock) -> None:
    base = clock.now().replace(second=0, microsecond=0) + timedelta(minutes=5)
    first = created(blazar, host_res(node_type("gpu_a100_pcie")), start=fmt(base + timedelta(days=1)),
                    end=fmt(base + timedelta(days=2)))
    second = created(blazar, host_res(node_type("gpu_a100_pcie")), start=fmt(base), end=fmt(base + timedelta(hours=1)))
    assert hosts_of(blazar, first) != hosts_of(blazar, second)


def test_exhaust_makes_a_type_unavailable(blazar: BlazarService) -> None:
    assert blazar.exhaust("gpu_rtx_6000") == 37
    assert create(blazar, host_res(node_type("gpu_rtx_6000"))).status == 500
    hosts = call(blazar, "GET", "/os-hosts").body["hosts"]
    assert {h["reservable"] for h in hosts if h["node_type"] == "gpu_rtx_6000"} == {False}
    assert blazar.snapshot()["unreservable_hosts"]
    assert blazar.exhaust("no_such_type") == 0


def test_lease_error_injection(blazar: BlazarService, clock: Clock) -> None:
    lease = created(blazar)
    assert blazar.set_lease_error(lease["id"]) is True
    shown = call(blazar, "GET", f"/leases/{lease['id']}").body["lease"]
    assert shown["status"] == "ERROR" and shown["reservations"][0]["status"] == "error"
    assert call(blazar, "DELETE", f"/leases/{lease['id']}").status == 204
    assert blazar.set_lease_error("missing") is False


# -- updates ---------------------------------------------------------------------------------------

def test_extend_only_near_the_end(blazar: BlazarService, clock: Clock) -> None:
    lease = created(blazar, hours=72)
    end = datetime.strptime(lease["end_date"], "%Y-%m-%dT%H:%M:%S.%f")
    resp = call(blazar, "PUT", f"/leases/{lease['id']}", {"end_date": fmt(end - timedelta(hours=1))})
    assert (resp.status, resp.body["error_message"]) == (500, "Invalid lease status.")  # still CREATING
    clock.advance(70)
    resp = call(blazar, "PUT", f"/leases/{lease['id']}", {"end_date": fmt(end + timedelta(days=1))})
    assert (resp.status, resp.body["error_message"]) == (
        400, "Lease can only be extended within 172800 seconds of the leases current end time.")
    clock.advance(30 * 3600)  # now 42 h before the end
    resp = call(blazar, "PUT", f"/leases/{lease['id']}", {"end_date": fmt(end + timedelta(days=1))})
    assert resp.status == 200 and resp.body["lease"]["end_date"].startswith(fmt(end + timedelta(days=1))[:10])
    new_end = end + timedelta(days=1)
    clock.advance(20 * 3600)  # 46 h before the new end: inside the window again
    resp = call(blazar, "PUT", f"/leases/{lease['id']}", {"end_date": fmt(new_end + timedelta(days=8))})
    assert resp.status == 400 and resp.body["error_message"].startswith("Lease duration of 691200 seconds")
    resp = call(blazar, "PUT", f"/leases/{lease['id']}", {"name": "renamed"})
    assert resp.body["lease"]["name"] == "renamed"


def test_started_leases_keep_their_start(blazar: BlazarService, clock: Clock) -> None:
    lease = created(blazar)
    clock.advance(120)
    resp = call(blazar, "PUT", f"/leases/{lease['id']}", {"start_date": fmt(clock.now() + timedelta(minutes=5))})
    assert (resp.status, resp.body["error_message"]) == (400, "Cannot modify the start date of already started leases")


# -- host endpoints ----------------------------------------------------------------------------------

def test_allocations_window_and_filters(blazar: BlazarService, clock: Clock) -> None:
    base = clock.now().replace(second=0, microsecond=0) + timedelta(minutes=5)
    soon = created(blazar, host_res(node_type("fpga")), start=fmt(base), end=fmt(base + timedelta(hours=1)))
    later = created(blazar, host_res(node_type("gpu_a100_nvlink")), start=fmt(base + timedelta(days=2)),
                    end=fmt(base + timedelta(days=3)))
    allocations = call(blazar, "GET", "/os-hosts/allocations").body["allocations"]
    assert len(allocations) == 132  # every host, most with no reservations
    busy = {a["resource_id"]: a["reservations"] for a in allocations if a["reservations"]}
    assert len(busy) == 2
    (entry,) = busy[hosts_of(blazar, later)[0]]
    assert entry == {"id": later["reservations"][0]["id"], "lease_id": later["id"],
                     "start_date": later["start_date"], "end_date": later["end_date"]}
    only = call(blazar, "GET", "/os-hosts/allocations", reservation_id=soon["reservations"][0]["id"]).body
    assert [a["resource_id"] for a in only["allocations"] if a["reservations"]] == hosts_of(blazar, soon)
    one = call(blazar, "GET", f"/os-hosts/{hosts_of(blazar, later)[0]}/allocation").body["allocation"]
    assert one["reservations"] == [entry]
    clock.advance(2 * 3600)  # the first lease has ended: it leaves the window
    busy_now = [a for a in call(blazar, "GET", "/os-hosts/allocations").body["allocations"] if a["reservations"]]
    assert [a["resource_id"] for a in busy_now] == hosts_of(blazar, later)


def test_host_endpoints(blazar: BlazarService) -> None:
    hosts = call(blazar, "GET", "/os-hosts").body["hosts"]
    assert len(hosts) == 132 and hosts[0]["hypervisor_type"] == "ironic"
    host = call(blazar, "GET", f"/os-hosts/{hosts[3]['id']}").body["host"]
    assert host == hosts[3]
    resp = call(blazar, "GET", "/os-hosts/9999")
    assert (resp.status, resp.body["error_message"]) == (404, "Object with {'host_id': '9999'} not found")
    names = {p["property"] for p in call(blazar, "GET", "/os-hosts/properties").body["resource_properties"]}
    assert {"node_type", "gpu.gpu_model", "architecture.smt_size", "uid", "node_name"} <= names
    assert "hypervisor_hostname" not in names
    assert call(blazar, "GET", "/nothing").status == 404
    assert call(blazar, "PATCH", "/leases").status == 405


def test_projects_see_their_own_leases(blazar: BlazarService) -> None:
    lease = created(blazar)
    other = {"x-twin-project-id": "p2", "x-twin-user-id": "u2"}
    assert call(blazar, "GET", "/leases", headers=other).body["leases"] == []
    assert call(blazar, "GET", f"/leases/{lease['id']}", headers=other).status == 403
    snapshot = blazar.snapshot()
    assert [x["id"] for x in snapshot["leases"]] == [lease["id"]]
    assert snapshot["leases"][0]["status"] == "CREATING" and snapshot["allocations"]
