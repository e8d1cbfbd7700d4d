from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
import responses

from chameleon_provision.cloud.resource_discovery import (
    BlazarHost,
    DiscoveryClient,
    busy_host_ids,
    next_free,
    parse_node,
    reservable_nodes,
    site_uid,
)
from chameleon_provision.errors import DiscoveryError

API = "http://discovery.invalid"


def _node(uid: str, node_type: str = "compute_skylake", gpu: dict | None = None) -> dict:
    return {"uid": uid, "node_name": uid, "node_type": node_type,
            "architecture": {"platform_type": "x86_64", "smt_size": 48},
            "main_memory": {"ram_size": 192 * 2**30}, "processor": {"model": "Xeon"},
            "gpu": gpu or {"gpu": False}}


def test_site_uid() -> None:
    assert site_uid("CHI@UC") == "uc" and site_uid("CHI@TACC") == "tacc"


@responses.activate
def test_nodes_follow_paging() -> None:
    url = f"{API}/sites/uc/clusters/chameleon/nodes"
    responses.get(url, json={"total": 3, "offset": 0, "items": [_node("a"), _node("b")]},
                  match=[responses.matchers.query_param_matcher({"offset": "0", "limit": "500"})])
    responses.get(url, json={"total": 3, "offset": 2, "items": [_node("c")]},
                  match=[responses.matchers.query_param_matcher({"offset": "2", "limit": "500"})])
    nodes = DiscoveryClient(API).nodes("CHI@UC")
    assert [n.uid for n in nodes] == ["a", "b", "c"]
    assert all(n.site == "CHI@UC" and n.ram_gb == 192 for n in nodes)


@responses.activate
def test_transient_errors_retry_then_succeed() -> None:
    responses.get(f"{API}/sites", status=503)
    responses.get(f"{API}/sites", json={"items": [{"uid": "uc", "name": "CHI@UC"}]})
    client = DiscoveryClient(API)
    assert client.sites()[0]["name"] == "CHI@UC"
    assert client.calls == 2


@responses.activate
def test_hard_errors_become_discovery_errors() -> None:
    responses.get(f"{API}/sites", status=404)
    with pytest.raises(DiscoveryError, match="answered 404"):
        DiscoveryClient(API).sites()


def test_unreachable_api_names_the_setting() -> None:
    with pytest.raises(DiscoveryError) as info:
        DiscoveryClient("http://127.0.0.1:9", timeout=1).sites()
    assert "CHAMELEON_API_URL" in (info.value.hint or "")


def test_parse_real_node_records(shared_dir: Path) -> None:
    folder = shared_dir / "chameleon-samples/nodes"
    nodes = {p.stem: parse_node(json.loads(p.read_text()), "X") for p in folder.glob("*.json")}
    rtx = nodes["uc_gpu_rtx_6000_nc35"]
    assert (rtx.gpu_vendor, rtx.gpu_count, rtx.gpu_memory_gb, rtx.cpu_threads, rtx.ram_gb) == ("nvidia", 1, 24, 48, 192)
    mi100 = nodes["tacc_gpu_mi100_c03-04"]
    assert (mi100.gpu_vendor, mi100.gpu_count, mi100.gpu_memory_gb) == ("amd", 2, 32)
    assert nodes["tacc_compute_arm64_c10-arm64-07"].arch == "aarch64"
    assert nodes["tacc_gpu_h100_gpu-h100-06"].gpu_memory_gb == 94


def test_parse_whole_real_collections(shared_dir: Path) -> None:
    for site, total in (("uc", 132), ("tacc", 313)):
        doc = json.loads((shared_dir / f"chameleon-samples/refapi_nodes_{site}_collection.json").read_text())
        nodes = [parse_node(item, f"CHI@{site.upper()}") for item in doc["items"]]
        assert len(nodes) == total
        gpus = [n for n in nodes if n.gpu_count]
        assert all(n.gpu_vendor in ("nvidia", "amd", "intel") for n in gpus)
        assert all(n.gpu_memory_gb > 0 for n in gpus), [n.gpu_model for n in gpus if not n.gpu_memory_gb]


def test_join_on_uid_and_reservable() -> None:
    nodes = [parse_node(_node(u), "CHI@UC") for u in ("u1", "u2", "u3")]
    hosts = [BlazarHost.from_record({"id": "1", "hypervisor_hostname": "u1", "reservable": True}),
             BlazarHost.from_record({"id": "2", "hypervisor_hostname": "u2", "reservable": "False"}),
             BlazarHost.from_record({"id": 3, "hypervisor_hostname": "x", "uid": "u3"})]
    assert [(n.uid, h.id) for n, h in reservable_nodes(nodes, hosts)] == [("u1", "1"), ("u3", "3")]


def test_busy_hosts_and_next_free() -> None:
    allocs = [{"resource_id": "1", "reservations": [{"id": "r", "start_date": "2026-11-22T10:00:00.000000",
                                                     "end_date": "2026-11-22T20:00:00.000000"}]},
              {"resource_id": 2, "reservations": [{"id": "r2"}]}]  # upstream Blazar: no dates
    start, end = datetime(2026, 11, 22, 12), datetime(2026, 11, 23, 12)
    assert busy_host_ids(allocs, start, end) == {"1", "2"}
    assert busy_host_ids(allocs, datetime(2026, 11, 22, 21), datetime(2026, 11, 23)) == {"2"}
    assert next_free(allocs, ["1"], start) == datetime(2026, 11, 22, 20)
    assert next_free(allocs, ["1", "9"], start) == start


def _collection(shared_dir: Path, site: str) -> list[dict]:
    path = shared_dir / "chameleon-samples" / f"refapi_nodes_{site}_collection.json"
    if not path.is_file():
        pytest.skip(f"{path.name} is not present")
    return json.loads(path.read_text())["items"]


def test_special_hardware_from_real_uc_records(shared_dir: Path) -> None:
    nodes = [parse_node(r, "CHI@UC") for r in _collection(shared_dir, "uc")]
    fpgas = sorted((n.node_type, n.fpga) for n in nodes if n.fpga)
    assert fpgas == [("compute_cascadelake_r", "Xilinx Alveo U280"),
                     ("compute_cascadelake_r", "Xilinx Alveo U280 Golden Image"), ("fpga", "Altera Arria 10 GX 1150")]
    nvme = {n.node_name: (n.nvme_count, n.nvme_spare, n.infiniband) for n in nodes if n.node_type == "storage_nvme"}
    assert nvme["P3-SSD-006"] == (5, 4, True)  # four data drives beside the system NVMe
    assert nvme["P3-SSD-001"] == (3, 2, False)  # the one storage_nvme host without an InfiniBand adapter
    assert nvme["P3-SSD-007"] == (1, 0, True)
    assert {n.node_type for n in nodes if n.nvdimm} == {"compute_nvdimm"}
    rtx = next(n for n in nodes if n.node_type == "gpu_rtx_6000")
    assert rtx.gpu_compute_capability == 7.5


def test_special_hardware_from_real_tacc_records(shared_dir: Path) -> None:
    nodes = [parse_node(r, "CHI@TACC") for r in _collection(shared_dir, "tacc")]
    by_type = {n.node_type: n for n in nodes}
    assert by_type["compute_arm64"].arch == "aarch64" and by_type["compute_arm64"].nvme_spare == 0
    assert by_type["compute_liqid"].nvme_spare == 2  # two NVMe beside a SAS system disk
    assert by_type["gpu_h100"].nvme_spare == 1  # the BOSS card holds the OS
    assert by_type["compute_haswell_ib"].infiniband  # named for its fabric; the record has no IB adapter
    assert by_type["gpu_h100"].gpu_compute_capability == 9.0 and by_type["gpu_mi100"].gpu_compute_capability is None


def test_the_twin_serves_the_same_special_hardware_as_the_real_records(shared_dir: Path) -> None:
    from chameleon_twin import inventory

    for site, uid in (("CHI@UC", "uc"), ("CHI@TACC", "tacc")):
        real = Counter((n.node_type, n.fpga, n.nvme_spare, n.infiniband, n.nvdimm, n.arch)
                       for n in (parse_node(r, site) for r in _collection(shared_dir, uid)))
        twin = Counter((n.node_type, n.fpga, n.nvme_spare, n.infiniband, n.nvdimm, n.arch)
                       for n in (parse_node(r, site) for r in inventory.node_records(uid)))
        assert twin == real, site
