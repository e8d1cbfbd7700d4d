"""The twin's Blazar is as strict as Chameleon's: two generations of host records, filters that
find only what real hosts carry, lease statuses, the finite reserved-address pool and the SU balance."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chameleon_twin import inventory
from chameleon_twin.balance import BalanceService
from chameleon_twin.blazar import BlazarService
from chameleon_twin.blazar_fips import FloatingIpPool
from chameleon_twin.clock import Clock
from chameleon_twin.http import Request, Response

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "chameleon-samples" / "blazar"
PROJECT = {"x-twin-project-id": "p1", "x-twin-user-id": "u1", "x-twin-project-name": "CHI-000000"}
RESERVED = ["192.5.86.2", "192.5.86.3"]
COLUMNS = {"availability_zone", "cpu_info", "created_at", "disabled", "hypervisor_hostname", "hypervisor_type",
           "hypervisor_version", "id", "local_gb", "memory_mb", "reservable", "service_name", "status", "trust_id",
           "updated_at", "vcpus"}
DONI_KEYS = {"node_name", "node_type", "cpu_arch", "su_factor"}


def hosts(site: str, node_type: str) -> list[dict[str, Any]]:
    return [h for h in inventory.blazar_hosts(site) if h["node_type"] == node_type]


@pytest.fixture
def clock() -> Clock:
    return Clock(speed=1)


@pytest.fixture
def balance() -> BalanceService:
    return BalanceService()


def service(site: str, clock: Clock, balance: BalanceService, pool: list[str] | None = None) -> BlazarService:
    return BlazarService(f"CHI@{site.upper()}", inventory.blazar_hosts(site), clock,
                         fips=FloatingIpPool("NET", RESERVED if pool is None else pool), balance=balance)


@pytest.fixture
def uc(clock: Clock, balance: BalanceService) -> BlazarService:
    return service("uc", clock, balance)


def call(blazar: BlazarService, method: str, path: str, body: Any = None) -> Response:
    return blazar.handle(Request(method, path, body=body, headers=PROJECT))


def fmt(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M")


def host_res(props: Any) -> dict[str, Any]:
    text = props if isinstance(props, str) else json.dumps(props)
    return {"resource_type": "physical:host", "min": 1, "max": 1, "hypervisor_properties": "",
            "resource_properties": text}


FIP = {"resource_type": "virtual:floatingip", "network_id": "NET", "amount": 1}


def create(blazar: BlazarService, *reservations: dict[str, Any], hours: float = 3, start: str = "now",
           name: str = "lease") -> Response:
    now = blazar.clock.now().replace(second=0, microsecond=0)
    begin = now if start == "now" else datetime.strptime(start, "%Y-%m-%d %H:%M")
    body = {"name": name, "start_date": start, "end_date": fmt(begin + timedelta(hours=hours)),
            "reservations": list(reservations), "events": []}
    return call(blazar, "POST", "/leases", body)


def status(blazar: BlazarService, lease_id: str) -> str:
    return call(blazar, "GET", f"/leases/{lease_id}").body["lease"]["status"]


# -- two generations of host records ---------------------------------------------------------------

@pytest.mark.parametrize(("site", "node_type"), [
    ("uc", "compute_gigaio"), ("tacc", "compute_gigaio"), ("tacc", "compute_liqid"), ("tacc", "gpu_h100"),
    ("tacc", "gpu_pontevecchio"), ("ncar", "compute_zen5_grado"),
])
def test_doni_enrolled_hosts_carry_only_doni_keys(site: str, node_type: str) -> None:
    nodes = {n["uid"]: n for n in inventory.node_records(site)}
    for host in hosts(site, node_type):
        extra = set(host) - COLUMNS
        assert DONI_KEYS <= extra <= DONI_KEYS | {"placement.node", "placement.rack"}
        assert not any(k.startswith(("gpu.", "architecture.", "main_memory.")) for k in host)
        assert "uid" not in host
        node = nodes[host["hypervisor_hostname"]]  # the name is the Ironic uuid: the discovery uid
        assert (host["node_name"], host["cpu_arch"]) == (node["node_name"], node["architecture"]["platform_type"])
        assert len(host["id"]) == 36  # a UUID, as on gigaio01


def test_doni_record_has_the_shape_of_real_gigaio01() -> None:
    sample = SAMPLES / "host_gigaio01_no_uid.json"
    if not sample.is_file():
        pytest.skip("../shared/chameleon-samples is not present")
    real = json.loads(sample.read_text())
    twin = next(h for h in hosts("tacc", "compute_gigaio") if h["node_name"] == "gigaio01")
    assert set(twin) == set(real)
    assert (twin["su_factor"], twin["created_at"], twin["availability_zone"]) == ("1", real["created_at"], "nova")


def test_old_hosts_keep_the_flattened_record_and_the_short_gpu_names() -> None:
    sample = SAMPLES / "host_uc_nc35_gpu_rtx_6000.json"
    nc35 = next(h for h in hosts("uc", "gpu_rtx_6000") if h["node_name"] == "nc35")
    if sample.is_file():
        real = json.loads(sample.read_text())
        assert {k: v for k, v in nc35.items() if k.startswith("gpu.")} == \
            {k: v for k, v in real.items() if k.startswith("gpu.")}
        assert {k.split(".")[0] for k in real} <= {k.split(".")[0] for k in nc35} | {"processor"}
    assert nc35["uid"] == nc35["hypervisor_hostname"] and nc35["id"].isdigit()
    short = {(h["node_type"], h["gpu.gpu_model"]) for s in ("uc", "tacc") for h in inventory.blazar_hosts(s)
             if h.get("gpu.gpu") == "True"}
    assert short == {("gpu_rtx_6000", "RTX 6000"), ("gpu_a100_pcie", "A100_pcie"), ("gpu_a100_nvlink", "A100_nvlink"),
                     ("gpu_v100", "V100"), ("gpu_mi100", "MI100"), ("gpu_k80", "K80"), ("gpu_m40", "M40"),
                     ("gpu_p100", "P100"), ("gpu_p100_nvlink", "P100"), ("gpu_p100_v100", "P100")}
    # NCAR's old ARM hosts have no gpu key at all, so no gpu.* capability either.
    assert not any(k.startswith("gpu.") for h in hosts("ncar", "arm_thunder") for k in h)


def test_old_hosts_are_listed_before_doni_ones() -> None:
    ids = [h["id"] for h in inventory.blazar_hosts("tacc")]
    first_uuid = next(i for i, host_id in enumerate(ids) if not host_id.isdigit())
    assert all(not host_id.isdigit() for host_id in ids[first_uuid:])
    assert ids[:first_uuid] == [str(n) for n in range(1, first_uuid + 1)]


# -- filters as Blazar applies them ------------------------------------------------------------------

def test_gpu_model_filter_on_a_doni_type_is_refused_as_blazar_would(uc: BlazarService) -> None:
    props = ["and", ["==", "$node_type", "compute_gigaio"], ["==", "$gpu.gpu_model", "GA100 [A100 PCIe 80GB]"]]
    resp = create(uc, host_res(props))
    assert resp.status == 500
    assert resp.body["error_message"].startswith("Not enough resources available with query {")
    assert "$gpu.gpu_model" in resp.body["error_message"]
    assert call(uc, "GET", "/leases").body["leases"] == []  # nothing was stored


def test_pci_names_find_no_old_host_either(uc: BlazarService) -> None:
    resp = create(uc, host_res(["==", "$gpu.gpu_model", "TU102GL [Quadro RTX 6000/8000]"]))
    assert resp.status == 500 and resp.body["error_message"].startswith("Not enough resources available")
    assert create(uc, host_res(["==", "$gpu.gpu_model", "RTX 6000"])).status == 201


def test_node_name_reservation_of_a_doni_host_is_accepted(uc: BlazarService) -> None:
    gigaio = [h for h in hosts("uc", "compute_gigaio")]
    resp = create(uc, host_res(["==", "$node_name", gigaio[2]["node_name"]]))
    assert resp.status == 201
    allocs = call(uc, "GET", "/os-hosts/allocations").body["allocations"]
    assert [a["resource_id"] for a in allocs if a["reservations"]] == [gigaio[2]["id"]]


def test_uid_filter_excludes_doni_hosts(uc: BlazarService) -> None:
    gigaio = hosts("uc", "compute_gigaio")[0]
    resp = create(uc, host_res(["=", "$uid", gigaio["hypervisor_hostname"]]))
    assert resp.status == 500 and resp.body["error_message"].startswith("Not enough resources available")
    rtx = hosts("uc", "gpu_rtx_6000")[0]
    assert create(uc, host_res(["=", "$uid", rtx["uid"]])).status == 201


def test_a_key_no_host_has_is_blazars_not_found(clock: Clock, balance: BalanceService) -> None:
    ncar = service("ncar", clock, balance)
    resp = create(ncar, host_res(["==", "$gpu.gpu", "True"]))
    assert (resp.status, resp.body["error_message"]) == (500, "gpu.gpu ComputeHostExtraCapability was not found")
    assert create(ncar, host_res(["==", "$node_type", "compute_zen5_grado"])).status == 201


# -- statuses ------------------------------------------------------------------------------------------

def test_update_passes_updating_and_delete_passes_deleting(uc: BlazarService, clock: Clock) -> None:
    lease = create(uc, host_res(["==", "$node_type", "compute_skylake"]), hours=40).body["lease"]
    clock.advance(70)
    assert status(uc, lease["id"]) == "ACTIVE"
    end = datetime.strptime(lease["end_date"], "%Y-%m-%dT%H:%M:%S.%f")
    resp = call(uc, "PUT", f"/leases/{lease['id']}", {"end_date": fmt(end + timedelta(hours=2))})
    assert resp.status == 200
    assert status(uc, lease["id"]) == "UPDATING"
    clock.advance(6)
    assert status(uc, lease["id"]) == "ACTIVE"
    assert call(uc, "DELETE", f"/leases/{lease['id']}").status == 204
    shown = call(uc, "GET", f"/leases/{lease['id']}").body["lease"]
    assert shown["status"] == "DELETING" and {r["status"] for r in shown["reservations"]} == {"deleted"}
    assert not any(a["reservations"] for a in call(uc, "GET", "/os-hosts/allocations").body["allocations"])
    clock.advance(61)
    assert call(uc, "GET", f"/leases/{lease['id']}").status == 404
    assert call(uc, "GET", "/leases").body["leases"] == []


def test_degraded_is_a_flag_beside_the_status(uc: BlazarService, clock: Clock) -> None:
    lease = create(uc, host_res(["==", "$node_type", "compute_skylake"])).body["lease"]
    assert lease["degraded"] is False
    clock.advance(70)
    assert uc.set_degraded(lease["id"]) is True
    shown = call(uc, "GET", f"/leases/{lease['id']}").body["lease"]
    assert (shown["status"], shown["degraded"], shown["reservations"][0]["missing_resources"]) == ("ACTIVE", True, True)


# -- reserved floating IPs ---------------------------------------------------------------------------------

def test_reserved_pool_is_finite_and_refuses_with_blazars_message(uc: BlazarService) -> None:
    skylake = host_res(["==", "$node_type", "compute_skylake"])
    first = create(uc, skylake, {**FIP, "amount": 2}, name="a")
    assert first.status == 201
    resp = create(uc, skylake, FIP, name="b")
    assert (resp.status, resp.body["error_message"]) == (400, "Not enough floating IPs available")
    assert [x["name"] for x in call(uc, "GET", "/leases").body["leases"]] == ["a"]
    later = uc.clock.now().replace(second=0, microsecond=0) + timedelta(hours=4)
    assert create(uc, skylake, FIP, start=fmt(later), name="c").status == 201  # free again after lease a


def test_reserved_pool_size_and_network(uc: BlazarService) -> None:
    assert uc.fips is not None and uc.fips.resize(0) == 0
    resp = create(uc, host_res(["==", "$node_type", "compute_skylake"]), FIP)
    assert (resp.status, resp.body["error_message"]) == (400, "Not enough floating IPs available")
    uc.fips.resize(2)
    wrong = create(uc, host_res(["==", "$node_type", "compute_skylake"]), {**FIP, "network_id": "sharednet1-id"})
    assert (wrong.status, wrong.body["error_message"]) == (400, "Not enough floating IPs available")
    required = create(uc, {**FIP, "required_floatingips": ["192.5.86.3"]})
    assert required.status == 201 and required.body["lease"]["reservations"][0]["required_floatingips"] == [
        "192.5.86.3"]
    bad = create(uc, {**FIP, "required_floatingips": ["not-an-ip"]})
    assert (bad.status, bad.body["error_message"]) == (400, "IP address not-an-ip is invalid form.")


# -- service units ------------------------------------------------------------------------------------------

def test_lease_costs_hours_times_su_factor_and_is_refused_beyond_the_balance(
        uc: BlazarService, balance: BalanceService) -> None:
    balance.set_balance("CHI-000000", allocated=100)
    rtx = host_res(["==", "$node_type", "gpu_rtx_6000"])  # su_factor 2.0
    resp = create(uc, rtx, FIP, hours=24)
    assert resp.status == 201
    assert balance.left("CHI-000000") == pytest.approx(52)  # 24 h x 2.0; the address costs nothing
    refused = create(uc, rtx, hours=27, name="too-long")
    assert refused.status == 400
    assert refused.body["error_message"] == "Reservation for project CHI-000000 would spend 54.00 SUs, only 52.00 left"
    assert [x["name"] for x in call(uc, "GET", "/leases").body["leases"]] == ["lease"]
    assert create(uc, host_res(["==", "$node_type", "compute_skylake"]), hours=52, name="cpu").status == 201
    assert balance.left("CHI-000000") == pytest.approx(0)


def test_deleting_early_refunds_the_unused_part(uc: BlazarService, balance: BalanceService, clock: Clock) -> None:
    balance.set_balance("CHI-000000", allocated=100)
    lease = create(uc, host_res(["==", "$node_type", "gpu_rtx_6000"]), hours=10).body["lease"]
    assert balance.left("CHI-000000") == pytest.approx(80)
    clock.advance(3600)
    assert call(uc, "DELETE", f"/leases/{lease['id']}").status == 204
    assert balance.left("CHI-000000") == pytest.approx(98, abs=0.05)  # charged up to now: 1 h x 2.0
    (charge,) = balance.state("CHI-000000")["CHI-000000"]["charges"]
    assert charge["region"] == "CHI@UC" and charge["hourly_cost"] == 2.0


def test_an_extension_must_fit_in_the_balance(uc: BlazarService, balance: BalanceService, clock: Clock) -> None:
    balance.set_balance("CHI-000000", allocated=30)
    lease = create(uc, host_res(["==", "$node_type", "compute_skylake"]), hours=24).body["lease"]
    clock.advance(23 * 3600)
    end = datetime.strptime(lease["end_date"], "%Y-%m-%dT%H:%M:%S.%f")
    resp = call(uc, "PUT", f"/leases/{lease['id']}", {"end_date": fmt(end + timedelta(hours=10))})
    assert (resp.status, resp.body["error_message"]) == (
        400, "Reservation update would spend 10.00 more SUs, only 6.00 left")
    assert call(uc, "GET", f"/leases/{lease['id']}").body["lease"]["end_date"] == lease["end_date"]
    assert call(uc, "PUT", f"/leases/{lease['id']}", {"end_date": fmt(end + timedelta(hours=6))}).status == 200
    assert balance.left("CHI-000000") == pytest.approx(0)


def test_balance_is_per_project_across_sites(clock: Clock, balance: BalanceService) -> None:
    balance.set_balance("CHI-000000", left=30)
    uc, tacc = service("uc", clock, balance), service("tacc", clock, balance)
    assert create(uc, host_res(["==", "$node_type", "compute_skylake"]), hours=20).status == 201
    resp = create(tacc, host_res(["==", "$node_type", "compute_skylake"]), hours=20)
    assert resp.body["error_message"] == "Reservation for project CHI-000000 would spend 20.00 SUs, only 10.00 left"
