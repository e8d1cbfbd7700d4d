"""The twin's inventory: Chameleon's real node types, counts and hardware mixes per site."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from chameleon_twin import inventory

SHARED = Path(__file__).resolve().parents[2].parent / "shared"

UC_COUNTS = {
    "compute_skylake": 23, "compute_cascadelake_r": 42, "compute_nvdimm": 2, "compute_gigaio": 8,
    "gpu_rtx_6000": 37, "gpu_a100_pcie": 4, "gpu_a100_nvlink": 1, "gpu_v100": 4, "storage_nvme": 10, "fpga": 1,
}
TACC_COUNTS = {
    "compute_skylake": 32, "compute_cascadelake": 24, "compute_cascadelake_r": 56, "compute_icelake_r650": 52,
    "compute_icelake_r750": 20, "compute_zen3": 32, "compute_arm64": 8, "compute_haswell_ib": 17,
    "compute_gigaio": 6, "compute_liqid": 8, "gpu_h100": 2, "gpu_mi100": 8, "gpu_pontevecchio": 2, "gpu_p100": 15,
    "gpu_p100_nvlink": 4, "gpu_p100_v100": 1, "gpu_k80": 2, "gpu_m40": 2, "storage": 20, "storage_hierarchy": 2,
}
NCAR_COUNTS = {"compute_zen5_grado": 40, "arm_thunder": 4}


def _of_type(site: str, node_type: str) -> list[dict[str, Any]]:
    return [n for n in inventory.node_records(site) if n["node_type"] == node_type]


def _gpu_mix(nodes: list[dict[str, Any]]) -> Counter[str]:
    return Counter(f"{n['gpu']['gpu_count']}x {n['gpu']['gpu_vendor']} {n['gpu']['gpu_model']}"
                   if (n.get("gpu") or {}).get("gpu") else "none" for n in nodes)


def test_sites_map_region_names_to_uids() -> None:
    assert inventory.SITES == {"CHI@UC": "uc", "CHI@TACC": "tacc", "CHI@NCAR": "ncar"}
    assert [s["name"] for s in inventory.site_records()] == ["CHI@NCAR", "CHI@TACC", "CHI@UC"]


@pytest.mark.parametrize(("site", "counts", "total"), [("uc", UC_COUNTS, 132), ("tacc", TACC_COUNTS, 313),
                                                       ("ncar", NCAR_COUNTS, 44)])
def test_counts_per_type_are_chameleons(site: str, counts: dict[str, int], total: int) -> None:
    nodes = inventory.node_records(site)
    assert len(nodes) == total
    assert Counter(n["node_type"] for n in nodes) == counts


def test_uc_only_and_tacc_only_types() -> None:
    tacc_types = {n["node_type"] for n in inventory.node_records("tacc")}
    uc_types = {n["node_type"] for n in inventory.node_records("uc")}
    assert {"gpu_rtx_6000", "gpu_a100_pcie", "gpu_v100"}.isdisjoint(tacc_types)
    assert {"gpu_mi100", "gpu_h100", "compute_zen3", "compute_arm64"}.isdisjoint(uc_types)


def test_uids_unique_and_equal_to_blazar_hypervisor_hostnames() -> None:
    all_uids: list[str] = []
    for site in ("uc", "tacc", "ncar"):
        nodes = inventory.node_records(site)
        hosts = inventory.blazar_hosts(site)
        assert sorted(h["hypervisor_hostname"] for h in hosts) == sorted(n["uid"] for n in nodes)
        # Old hosts also carry the uid as a capability; doni-enrolled ones do not.
        assert all(h["uid"] == h["hypervisor_hostname"] for h in hosts if "uid" in h)
        assert len({h["id"] for h in hosts}) == len(hosts)
        assert all(isinstance(h["id"], str) and (h["id"].isdigit() or "uid" not in h) for h in hosts)
        all_uids += [n["uid"] for n in nodes]
    assert len(set(all_uids)) == len(all_uids)


def test_records_are_deterministic_and_copies() -> None:
    first = inventory.node_records("uc")
    first[0]["node_name"] = "changed"
    assert inventory.node_records("uc") == inventory.node_records("uc")
    assert inventory.node_records("uc")[0]["node_name"] != "changed"


def test_mixed_types_keep_their_variants() -> None:
    assert _gpu_mix(_of_type("uc", "compute_gigaio")) == {"1x NVIDIA GA100 [A100 PCIe 80GB]": 7, "none": 1}
    assert _gpu_mix(_of_type("uc", "gpu_a100_pcie")) == {"4x NVIDIA GA100 [A100 PCIe 80GB]": 4}
    assert _gpu_mix(_of_type("uc", "gpu_v100")) == {"4x NVIDIA GV100GL [Tesla V100 SXM2 32GB]": 3,
                                                   "4x NVIDIA GV100GL [Tesla V100 PCIe 32GB]": 1}
    assert Counter(n["architecture"]["smt_size"] for n in _of_type("uc", "compute_skylake")) == {48: 21, 24: 2}
    assert _gpu_mix(_of_type("tacc", "compute_gigaio")) == {"none": 2, "1x NVIDIA GA100GL [A30 PCIe]": 2,
                                                           "1x NVIDIA GA100 [A100 PCIe 40GB]": 2}
    assert _gpu_mix(_of_type("tacc", "compute_liqid")) == {"1x NVIDIA GA100 [A100 PCIe 40GB]": 6,
                                                          "2x NVIDIA GA100 [A100 PCIe 40GB]": 2}
    assert _gpu_mix(_of_type("tacc", "gpu_mi100")) == {"2x AMD Arcturus GL-XL [Instinct MI100]": 8}
    assert {n["architecture"]["platform_type"] for n in _of_type("tacc", "compute_arm64")} == {"aarch64"}


def test_node_record_format() -> None:
    node = _of_type("uc", "gpu_rtx_6000")[0]
    assert re.fullmatch(r"nc\d\d", node["node_name"])
    assert {"architecture", "bios", "chassis", "gpu", "main_memory", "monitoring", "network_adapters", "node_name",
            "node_type", "placement", "processor", "storage_devices", "supported_job_types", "type", "uid",
            "version", "links", "infiniband"} <= set(node)
    assert node["type"] == "node"
    assert node["main_memory"] == {"humanized_ram_size": "192 GiB", "ram_size": 192 * 2**30}
    assert node["gpu"] == {"gpu": True, "gpu_count": 1, "gpu_model": "TU102GL [Quadro RTX 6000/8000]",
                           "gpu_vendor": "NVIDIA"}
    assert node["processor"]["model"] == "Intel(R) Xeon(R) Gold 6126 CPU @ 2.60GHz"
    assert node["storage_devices"][0]["humanized_size"] == "240 GB"
    assert all(re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", a["mac"]) for a in node["network_adapters"])
    assert [link["rel"] for link in node["links"]] == ["self", "parent", "versions", "version"]
    cpu_only = _of_type("uc", "compute_cascadelake_r")[0]
    assert cpu_only["gpu"] == {"gpu": False}
    assert all(re.fullmatch(r"c\d\d-\d\d", n["node_name"]) for n in _of_type("tacc", "compute_skylake"))


def test_every_gpu_model_has_its_memory() -> None:
    models = {n["gpu"]["gpu_model"] for s in ("uc", "tacc") for n in inventory.node_records(s) if n["gpu"]["gpu"]}
    assert all(inventory.gpu_memory_gb(m) > 0 for m in models)
    assert inventory.gpu_memory_gb("GA100 [A100 PCIe 80GB]") == 80
    assert inventory.gpu_memory_gb("TU102GL [Quadro RTX 6000/8000]") == 24


def test_blazar_hosts_flatten_capabilities_as_strings() -> None:
    node = _of_type("uc", "gpu_rtx_6000")[0]
    host = next(h for h in inventory.blazar_hosts("uc") if h["hypervisor_hostname"] == node["uid"])
    assert host["gpu.gpu"] == "True"
    assert host["gpu.gpu_model"] == "RTX 6000"  # what Blazar kept; the API now says the PCI name
    assert node["gpu"]["gpu_model"] == "TU102GL [Quadro RTX 6000/8000]"
    assert host["architecture.smt_size"] == "48"
    assert host["main_memory.ram_size"] == str(192 * 2**30)
    assert host["network_adapters.0.mac"] == node["network_adapters"][0]["mac"]
    assert (host["node_name"], host["node_type"], host["uid"]) == (node["node_name"], "gpu_rtx_6000", node["uid"])
    assert host["reservable"] is True and host["disabled"] is False
    assert (host["hypervisor_type"], host["vcpus"], host["memory_mb"], host["local_gb"]) == ("ironic", 0, 0, 0)
    assert float(host["su_factor"]) > 1
    assert {"created_at", "updated_at", "id", "trust_id", "service_name"} <= set(host)
    cpu_host = next(h for h in inventory.blazar_hosts("uc") if h["node_type"] == "compute_skylake")
    assert cpu_host["gpu.gpu"] == "False" and "gpu.gpu_model" not in cpu_host
    assert float(cpu_host["su_factor"]) == 1
    assert all(isinstance(v, str) for k, v in host.items() if "." in k)


# -- against the real inventory summary, when ../shared is there -----------------------------------

def _summary() -> dict[str, Any]:
    path = SHARED / "chameleon-samples" / "node_types_summary_derived.json"
    if not path.is_file():
        pytest.skip("../shared/chameleon-samples is not present")
    return json.loads(path.read_text())["sites"]


def _disk_gb(label: str) -> str:
    if label == "null":
        return "none"
    number, unit = label.split()
    return f"{int(number) * (1000 if unit == 'TB' else 1)} GB"


def test_ncar_records_keep_their_own_shape() -> None:
    zen5 = _of_type("ncar", "compute_zen5_grado")
    assert all("gpu" not in n and n["placement"] == {} and n["boot_mode"] == "uefi" for n in zen5)
    assert Counter(len(n["network_adapters"]) for n in zen5) == {2: 36, 1: 4}
    thunder = _of_type("ncar", "arm_thunder")
    assert [n["node_name"] for n in thunder] == ["tharm01", "tharm02", "tharm03", "tharm04"]
    assert all(n["main_memory"] == {"ram_size": 135291469824} and "placement" not in n for n in thunder)
    assert thunder[0]["storage_devices"][0] == {"device": "sda", "model": "ST2000NX0253", "size": 2000398934016}


@pytest.mark.parametrize("site", ["uc", "tacc", "ncar"])
def test_matches_chameleon_summary(site: str) -> None:
    summary = _summary()[site]
    nodes = inventory.node_records(site)
    assert {n["node_type"] for n in nodes} == set(summary)
    for node_type, facts in summary.items():
        mine = [n for n in nodes if n["node_type"] == node_type]
        assert len(mine) == facts["count"], node_type
        assert Counter(n["architecture"]["platform_type"] for n in mine) == facts["platform_type"], node_type
        assert Counter(n["processor"]["model"] for n in mine) == facts["cpu_model"], node_type
        assert Counter(str(n["architecture"]["smt_size"]) for n in mine) == facts["smt_size_logical_cpus"], node_type
        assert Counter(n["main_memory"].get("humanized_ram_size", "null") for n in mine) == facts["ram"], node_type
        assert _gpu_mix(mine) == facts["gpu"], node_type
        first_disks = Counter(n["storage_devices"][0].get("humanized_size", "none") if n["storage_devices"]
                              else "none" for n in mine)
        expected: Counter[str] = Counter()
        for label, count in facts["first_disk"].items():  # "2 TB" and "2000 GB" are the same disk
            expected[_disk_gb(label)] += count
        assert first_disks == expected, node_type
        infiniband = Counter(json.dumps(n.get("infiniband")) for n in mine)
        assert infiniband == facts["infiniband"], node_type
