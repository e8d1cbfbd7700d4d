"""End to end against the strict twin: what real Chameleon refuses, `provision` must not rely on.

Doni-enrolled hosts without gpu.* keys, the floating IP reserved in the lease (and the fallback when
Blazar's pool is empty), the service-unit balance, and Blazar's 7-day maximum.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from helpers import Openstack, RunMain, admin, ok

from chameleon_provision.cloud.openstack_cli import decode_listish
from chameleon_twin import inventory
from chameleon_twin.server import TwinServer

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[1]
A100_80GB_REPO = str(ROOT / "tests" / "fixtures" / "repos" / "a100_80gb")
GPU_REPO = str(ROOT / "examples" / "pytorch-gpu-24gb")
CPU_REPO = str(ROOT / "examples" / "pandas-sklearn")
BLAZAR_DATE = "%Y-%m-%dT%H:%M:%S.%f"





def held(twin: TwinServer) -> dict[str, list[str]]:
    """Leases still holding resources, servers and floating IPs, across every site."""
    out: dict[str, list[str]] = {"leases": [], "servers": [], "floating_ips": []}
    for site in twin.state()["sites"].values():
        out["leases"] += [lease["id"] for lease in site["blazar"]["leases"] if lease["holds_resources"]]
        out["servers"] += [s["id"] for s in site["servers"]]
        out["floating_ips"] += [f["floating_ip_address"] for f in site["floating_ips"]]
    return out


def reservations(openstack: Openstack, lease_id: str) -> list[dict]:
    return decode_listish(ok(openstack("reservation", "lease", "show", lease_id))["reservations"])


def test_an_80gb_a100_run_reserves_a_doni_gigaio_host_by_name(twin: TwinServer, cloud_env: dict[str, str],
                                                              run_main: RunMain, openstack: Openstack) -> None:
    code, out, err = run_main(A100_80GB_REPO, "--node-type", "compute_gigaio", "--yes", "--json")
    assert code == 0, err
    doc = json.loads(out)
    props = doc["resource"]["resource_properties"]
    assert props[:2] == ["==", "$node_name"] and "gpu.gpu_model" not in json.dumps(props)
    assert doc["resource"]["hardware"]["gpu_memory_gb"] == 80
    (host_res,) = [r for r in reservations(openstack, doc["lease"]["id"]) if r["resource_type"] == "physical:host"]
    assert json.loads(host_res["resource_properties"]) == props
    server = ok(openstack("server", "show", doc["server"]["id"]))
    gigaio = {h["hypervisor_hostname"]: h for h in inventory.blazar_hosts("uc") if h["node_type"] == "compute_gigaio"}
    host = gigaio[server["OS-EXT-SRV-ATTR:hypervisor_hostname"]]
    assert host["node_name"] == props[2] and "uid" not in host and "gpu.gpu" not in host  # a doni-made record
    node = next(n for n in inventory.node_records("uc") if n["uid"] == host["hypervisor_hostname"])
    assert node["gpu"]["gpu_model"] == "GA100 [A100 PCIe 80GB]"
    assert run_main("destroy", doc["run_id"], "--yes")[0] == 0
    assert held(twin) == {"leases": [], "servers": [], "floating_ips": []}


def test_a_full_run_reserves_its_floating_ip_in_the_lease(twin: TwinServer, cloud_env: dict[str, str],
                                                         run_main: RunMain, openstack: Openstack) -> None:
    code, out, err = run_main(CPU_REPO, "--yes", "--json")
    assert code == 0, err
    doc = json.loads(out)
    (fip_res,) = [r for r in reservations(openstack, doc["lease"]["id"]) if r["resource_type"] == "virtual:floatingip"]
    tagged = ok(openstack("floating", "ip", "list", "--long", "--tags", f"reservation:{fip_res['id']}"))
    assert [f["Floating IP Address"] for f in tagged] == [doc["floating_ip"]]
    assert doc["floating_ip"].startswith("192.5.86.")  # Blazar's own pool, not the ad hoc one
    assert run_main("destroy", doc["run_id"], "--yes")[0] == 0
    assert held(twin) == {"leases": [], "servers": [], "floating_ips": []}


def test_an_empty_reserved_pool_falls_back_to_an_ad_hoc_address_and_says_so(
        twin: TwinServer, cloud_env: dict[str, str], run_main: RunMain, openstack: Openstack) -> None:
    admin(twin, "POST", "sites/CHI@UC/floatingips/reserved", {"size": 0})
    code, out, err = run_main(CPU_REPO, "--yes", "--json")
    assert code == 0, err
    (said,) = [line for line in err.splitlines() if line.startswith("Blazar could not reserve a floating IP")]
    assert "ERROR: Not enough floating IPs available" in said and "ad hoc address" in said
    doc = json.loads(out)
    assert doc["floating_ip"].startswith("192.5.87.")  # the ad hoc pool
    kinds = [r["resource_type"] for r in reservations(openstack, doc["lease"]["id"])]
    assert kinds == ["physical:host"]
    assert run_main("destroy", doc["run_id"], "--yes")[0] == 0
    assert held(twin) == {"leases": [], "servers": [], "floating_ips": []}


def test_too_small_a_balance_is_exit_15_and_leaves_nothing(twin: TwinServer, cloud_env: dict[str, str],
                                                           run_main: RunMain) -> None:
    admin(twin, "POST", "projects/CHI-000000/balance", {"left": 10})
    code, out, err = run_main(GPU_REPO, "--yes", "--json")
    assert code == 15, err
    error = json.loads(out)["error"]
    assert error["exit_code"] == 15
    message = error["message"]
    assert "Reservation for project CHI-000000 would spend" in message and "only 10.00 left" in message
    assert held(twin) == {"leases": [], "servers": [], "floating_ips": []}
    balance = admin(twin, "GET", "projects/CHI-000000/balance")
    assert balance["charges"] == [] and balance["left"] == 10


def test_a_168_hour_lease_provisions(twin: TwinServer, cloud_env: dict[str, str], run_main: RunMain,
                                     openstack: Openstack) -> None:
    code, out, err = run_main(CPU_REPO, "--hours", "168", "--yes", "--max-su", "200", "--json")  # 168 SU
    assert code == 0, err
    doc = json.loads(out)
    lease = ok(openstack("reservation", "lease", "show", doc["lease"]["id"]))
    length = datetime.strptime(lease["end_date"], BLAZAR_DATE) - datetime.strptime(lease["start_date"], BLAZAR_DATE)
    assert length.total_seconds() == 604800
    charged = admin(twin, "GET", "projects/CHI-000000/balance")["charges"]
    assert [c["hourly_cost"] for c in charged] == [1.0] and charged[0]["amount"] == 168
    assert run_main("destroy", doc["run_id"], "--yes")[0] == 0
    assert held(twin) == {"leases": [], "servers": [], "floating_ips": []}
