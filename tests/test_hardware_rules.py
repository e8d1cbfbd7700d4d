"""Node choice by rules against the hand-built UC + TACC catalog."""

from __future__ import annotations

import pytest
from catalog import TACC, UC, nodes

from chameleon_provision.decisions.hardware_rules import (
    adequate,
    compute_capability,
    node_class,
    rank_candidates,
    resource_properties_valid,
    rules_choice,
)
from chameleon_provision.errors import NoMatchError
from chameleon_provision.models import GpuNeed, Requirements

CATALOG = nodes()


def req(required: str = "no", count: int = 0, memory: float | None = None, vendor: str = "none",
        cc: float | None = None, **kw: object) -> Requirements:
    return Requirements(gpu=GpuNeed(required, count, memory, vendor, cc), **kw)  # type: ignore[arg-type]


def one(node_type: str, site: str = UC, model: str | None = None):
    return next(n for n in CATALOG if n.node_type == node_type and n.site == site
                and (model is None or n.gpu_model == model))


def test_node_classes() -> None:
    assert node_class(one("compute_skylake")) == "cpu"
    assert node_class(one("gpu_rtx_6000")) == "gpu_small"
    assert node_class(one("compute_gigaio", UC, "GA100 [A100 PCIe 80GB]")) == "gpu_large"
    assert node_class(one("gpu_a100_pcie")) == "multi-gpu"
    assert node_class(one("gpu_mi100", TACC)) == "multi-gpu"


def test_compute_capability_from_pci_names() -> None:
    assert compute_capability("GA100GL [A30 PCIe]") == 8.0
    assert compute_capability("TU102GL [Quadro RTX 6000/8000]") == 7.5
    assert compute_capability("GK210GL [Tesla K80]") == 3.7
    assert compute_capability("Arcturus GL-XL [Instinct MI100]") is None


def test_adequate_reasons() -> None:
    need = req("yes", 1, 40, "nvidia")
    assert adequate(need, one("gpu_rtx_6000")) == "24 GB per GPU, the workload needs 40 GB"
    assert adequate(need, one("compute_skylake")) == "no GPU"
    assert adequate(need, one("gpu_mi100", TACC)).startswith("amd GPUs")
    assert adequate(req(arch="aarch64"), one("compute_skylake")).startswith("x86_64 node")
    assert adequate(req(cpu_cores=100), one("compute_skylake")) == "48 CPU threads, the workload needs 100"
    assert adequate(req(ram_gb=187), one("compute_skylake")) is None
    assert adequate(need, one("compute_gigaio", UC, "GA100 [A100 PCIe 80GB]")) is None


def test_small_gpu_gets_rtx_6000_not_a100() -> None:
    c = rules_choice(req("yes", 1, 10, "nvidia"), CATALOG, preferred_site=UC)
    assert (c.node_type, c.site, c.resource_properties) == ("gpu_rtx_6000", UC, ("==", "$node_type", "gpu_rtx_6000"))
    assert c.hosts == 37 and "smallest adequate" in c.reason


def test_preferred_site_on_ties() -> None:
    assert rules_choice(req("yes", 1, 16, "nvidia"), CATALOG, preferred_site=TACC).node_type == "compute_gigaio"
    assert rules_choice(req(), CATALOG, preferred_site=TACC).site == TACC
    assert rules_choice(req(), CATALOG, preferred_site=UC).site == UC


def test_a_mixed_type_is_reserved_by_node_name() -> None:
    """compute_gigaio mixes A100 and no-GPU hosts: only `$node_name` (a key every host carries) selects one."""
    c = rules_choice(req("yes", 1, 80, "nvidia"), CATALOG, preferred_site=UC)
    assert c.node_type == "compute_gigaio" and c.site == UC
    [op, key, name] = c.resource_properties
    assert (op, key) == ("==", "$node_name")
    gigaio = {n.node_name: n for n in CATALOG if n.site == UC and n.node_type == "compute_gigaio"}
    assert gigaio[name].gpu_model == "GA100 [A100 PCIe 80GB]"
    assert c.hosts == 7
    assert resource_properties_valid(c.resource_properties, CATALOG, UC) is None


def test_mixed_types_list_the_nodes_of_each_variant_and_plain_types_filter_by_type() -> None:
    ranked = rank_candidates(req("yes", 1, 20, "nvidia"), CATALOG, preferred_site=TACC)
    for c in ranked:
        names = {n.node_name for n in CATALOG if n.site == c.site and n.node_type == c.node_type
                 and (n.gpu_model, n.gpu_count) == (c.hardware.gpu_model, c.hardware.gpu_count)}
        if c.node_names:
            assert set(c.node_names) <= names and c.resource_properties == ("==", "$node_name", c.hardware.node_name)
        else:
            assert c.resource_properties == ("==", "$node_type", c.node_type)
        assert resource_properties_valid(c.resource_properties, CATALOG, c.site) is None, c
    liqid = [c for c in ranked if c.node_type == "compute_liqid"]
    assert {c.hardware.gpu_count for c in liqid} == {1, 2} and all(c.node_names for c in liqid)
    assert not any("$gpu" in str(c.resource_properties) for c in ranked)


def test_gpu_count_beyond_any_node_is_relaxed() -> None:
    c = rules_choice(req("yes", 8, 80, "nvidia", 8.0), CATALOG, preferred_site=UC)
    assert c.node_type == "gpu_a100_pcie" and c.hardware.gpu_count == 4
    assert "no node has 8 GPUs, using 4" in c.reason


def test_memory_beyond_any_gpu_is_spread() -> None:
    c = rules_choice(req("yes", 1, 300, "nvidia"), CATALOG, preferred_site=UC)
    assert c.hardware.gpu_count == 4 and c.hardware.gpu_memory_gb >= 75
    assert "spread over 4 GPUs" in c.reason


def test_flash_attention_needs_ampere() -> None:
    c = rules_choice(req("yes", 1, 16, "nvidia", 8.0), CATALOG, preferred_site=UC)
    assert compute_capability(c.hardware.gpu_model) >= 8.0
    assert c.node_type == "compute_gigaio"


def test_legacy_gpus_ranked_last() -> None:
    ranked = rank_candidates(req("yes", 1, 10, "nvidia"), CATALOG, preferred_site=TACC)
    order = [c.node_type for c in ranked]
    assert order.index("gpu_m40") > order.index("gpu_h100")


def test_vendor_any_prefers_nvidia_and_amd_gets_mi100() -> None:
    assert rules_choice(req("yes", 1, None, "any"), CATALOG, preferred_site=UC).hardware.gpu_vendor == "nvidia"
    amd = rules_choice(req("yes", 1, None, "amd"), CATALOG, preferred_site=UC)
    assert (amd.node_type, amd.site) == ("gpu_mi100", TACC)
    intel = rules_choice(req("yes", 1, None, "intel"), CATALOG)
    assert intel.node_type == "gpu_pontevecchio"


def test_optional_gpu() -> None:
    cpu_main = rules_choice(req("optional", 0, None, "nvidia"), CATALOG, preferred_site=UC)
    assert node_class(cpu_main.hardware) == "cpu"
    gpu_main = rules_choice(req("optional", 1, 10, "nvidia"), CATALOG, preferred_site=UC)
    assert gpu_main.node_type == "gpu_rtx_6000"
    ranked = rank_candidates(req("optional", 1, 10, "nvidia"), CATALOG, preferred_site=UC)
    assert any(c.hardware.gpu_count == 0 for c in ranked)  # CPU nodes stay as fallbacks
    assert not any(c.hardware.gpu_vendor == "amd" for c in ranked)  # idle AMD GPUs are no use
    many = rules_choice(req("optional", 8, None, "nvidia"), CATALOG, preferred_site=UC)
    assert many.hardware.gpu_count == 4  # relaxed before settling for a CPU node


def test_cpu_workload_gets_plain_compute_first_gpus_last() -> None:
    ranked = rank_candidates(req(), CATALOG, preferred_site=UC)
    first = ranked[0]
    assert (first.node_type, first.site) == ("compute_skylake", UC)
    assert all(c.hardware.gpu_count == 0 for c in ranked[:10])
    assert ranked[-1].hardware.gpu_count > 0
    assert not any(c.node_type == "compute_arm64" for c in ranked)
    # a gigaio host without a GPU carries no GPU keys in Blazar, but it can still be reserved by name
    plain_gigaio = [c for c in ranked if c.node_type == "compute_gigaio" and c.hardware.gpu_count == 0]
    assert plain_gigaio and all(c.resource_properties[1] == "$node_name" for c in plain_gigaio)


def test_cpu_needs_and_relaxation() -> None:
    assert rules_choice(req(cpu_cores=100), CATALOG, preferred_site=UC).hardware.cpu_threads >= 100
    c = rules_choice(req(cpu_cores=1000), CATALOG, preferred_site=UC)
    assert c.hardware.cpu_threads == 256 and "no node has 1000 threads" in c.reason
    assert rules_choice(req(ram_gb=1000), CATALOG).hardware.ram_gb >= 1000
    arm = rules_choice(req(arch="aarch64"), CATALOG)
    assert arm.node_type == "compute_arm64"


def test_no_match() -> None:
    with pytest.raises(NoMatchError, match="1x AMD GPU"):
        rules_choice(req("yes", 1, None, "amd"), nodes((UC,)))
    with pytest.raises(NoMatchError):
        rules_choice(req(), [])


@pytest.mark.parametrize(("props", "site", "problem"), [
    (["==", "$node_type", "gpu_rtx_6000"], UC, None),
    (["and", ["==", "$node_type", "compute_gigaio"], ["==", "$gpu.gpu_model", "GA100 [A100 PCIe 80GB]"]], UC,
     "not one of"),
    (["==", "$node_name", "compute_gigaio-0"], UC, None),
    (["=", "$node_type", "compute_skylake"], TACC, None),
    (["==", "$node_type", "gpu_rtx_6000"], TACC, "no host at CHI@TACC"),
    (["==", "$node_type", "compute_gigaio"], TACC, "different GPUs"),
    ([">=", "$architecture.smt_size", "48"], UC, "not allowed"),
    (["==", "$gpu.gpu_model", "GA100 [A100 PCIe 80GB]"], UC, "not one of"),
    (["==", "$uid", "x"], UC, "not one of"),
    (["==", "$node_type", 5], UC, "triple of strings"),
    (["==", "$secret", "x"], UC, "not one of"),
    ([], UC, "non-empty"),
    ("gpu_rtx_6000", UC, "non-empty JSON array"),
    (["and"], UC, "at least one condition"),
])
def test_resource_properties_valid(props: object, site: str, problem: str | None) -> None:
    result = resource_properties_valid(props, CATALOG, site)
    if problem is None:
        assert result is None
    else:
        assert result is not None and problem in result


def test_total_gpu_memory_floor_picks_a_node_with_enough_in_total() -> None:
    need = Requirements(gpu=GpuNeed("yes", 1, None, "nvidia", min_total_memory_gb=340))
    c = rules_choice(need, CATALOG, preferred_site=UC)
    assert c.hardware.gpu_count * c.hardware.gpu_memory_gb >= 340 and c.node_type == "gpu_h100"
    assert "340 GB GPU memory in total" in c.reason


def test_total_gpu_memory_floor_above_every_node_is_infeasible() -> None:
    need = Requirements(gpu=GpuNeed("yes", 1, None, "nvidia", min_total_memory_gb=800))
    with pytest.raises(NoMatchError, match=r"infeasible request: looked for 1x NVIDIA GPU, >= 800 GB GPU memory in "
                                           r"total.*largest is gpu_h100"):
        rules_choice(need, CATALOG, preferred_site=UC)


def test_optional_gpu_path_beyond_every_node_is_infeasible_not_a_cpu_plan() -> None:
    need = Requirements(gpu=GpuNeed("optional", 8, None, "nvidia", min_total_memory_gb=740))
    with pytest.raises(NoMatchError, match="infeasible request"):
        rules_choice(need, CATALOG, preferred_site=UC)


# --- special hardware, against the twin's inventory (Chameleon's real node records) -----------------------

def twin_nodes() -> list:
    from chameleon_provision.cloud.resource_discovery import parse_node
    from chameleon_twin import inventory

    return [parse_node(r, site) for site, uid in inventory.SITES.items() for r in inventory.node_records(uid)]


TWIN = twin_nodes()


def test_an_fpga_on_two_nodes_of_a_general_type_is_reserved_by_node_name() -> None:
    ranked = rank_candidates(req(fpga="xilinx"), TWIN, preferred_site=UC)
    assert [(c.node_type, c.hardware.fpga) for c in ranked] == [
        ("compute_cascadelake_r", "Xilinx Alveo U280"), ("compute_cascadelake_r", "Xilinx Alveo U280 Golden Image")]
    first = ranked[0]
    assert first.resource_properties[:2] == ("==", "$node_name") and len(first.node_names) == 1
    assert resource_properties_valid(list(first.resource_properties), TWIN, UC) is None
    altera = rules_choice(req(fpga="intel"), TWIN, UC)
    assert (altera.node_type, altera.resource_properties) == ("fpga", ("==", "$node_type", "fpga"))


def test_the_board_a_repository_names_is_preferred_and_another_board_of_its_vendor_accepted() -> None:
    ranked = rank_candidates(req(fpga="xilinx", fpga_model="U250"), TWIN, preferred_site=UC)
    assert ranked[0].hardware.fpga == "Xilinx Alveo U280"
    assert "targets a U250: rebuild its kernels for the Xilinx Alveo U280" in ranked[0].reason
    golden = rank_candidates(req(fpga="xilinx", fpga_model="U280"), TWIN, preferred_site=UC)
    assert [c.hardware.fpga for c in golden][-1] == "Xilinx Alveo U280 Golden Image"
    assert "rebuild" not in golden[0].reason


def test_a_cpu_workload_never_takes_one_of_the_few_fpga_hosts_of_a_general_type() -> None:
    cascade = [n for n in TWIN if n.node_type == "compute_cascadelake_r"]
    at_uc = rank_candidates(req(cpu_cores=96), cascade, preferred_site=UC)[0]
    fpga_hosts = {n.node_name for n in cascade if n.site == UC and n.fpga}
    assert len(fpga_hosts) == 2 and at_uc.site == UC and at_uc.resource_properties[:2] == ("==", "$node_name")
    assert at_uc.hardware.fpga == "" and len(at_uc.node_names) == 40 and not fpga_hosts & set(at_uc.node_names)
    at_tacc = rank_candidates(req(cpu_cores=96), cascade, preferred_site=TACC)[0]  # no boards there: by type
    assert at_tacc.resource_properties == ("==", "$node_type", "compute_cascadelake_r")


def test_spare_nvme_devices_exclude_the_system_disk() -> None:
    c = rules_choice(req(local_nvme=2), TWIN, UC)
    assert (c.node_type, c.hardware.nvme_spare) == ("storage_nvme", 2)
    assert all(n.nvme_spare >= 2 for n in TWIN if n.node_name in c.node_names)
    # storage_nvme mixes 0, 2 and 4 spare devices: a filter on the type could hand out the wrong one
    assert c.resource_properties[1] == "$node_name"
    assert rules_choice(req(local_nvme=4), TWIN, UC).hardware.nvme_spare == 4
    arm = next(n for n in TWIN if n.node_type == "compute_arm64")
    assert adequate(req(local_nvme=1, arch="aarch64"), arm) == "0 spare NVMe device(s), the workload needs 1"


def test_rdma_needs_an_infiniband_node_and_never_the_one_storage_nvme_host_without_it() -> None:
    c = rules_choice(req(rdma=True), TWIN, UC)
    assert c.hardware.infiniband and c.node_type == "storage_nvme"
    assert all(n.infiniband for n in TWIN if n.node_name in c.node_names)
    tacc = rules_choice(req(rdma=True), TWIN, TACC)
    assert tacc.node_type == "compute_haswell_ib"


def test_arm_gets_an_arm_node_and_nvdimm_the_nvdimm_type() -> None:
    assert rules_choice(req(arch="aarch64"), TWIN, UC).hardware.arch == "aarch64"
    assert rules_choice(req(persistent_memory=True, ram_gb=1024), TWIN, UC).node_type == "compute_nvdimm"


@pytest.mark.parametrize(("need", "too_old"), [
    (req("yes", 1, None, "nvidia", 8.0), ("RTX 6000", "V100", "P100", "K80", "M40")),
    (req("yes", 4, 16, "nvidia", 8.0), ("RTX 6000", "V100", "P100", "K80", "M40")),
    # CUDA 13 dropped Maxwell, Pascal and Volta: a CUDA 13 pin alone is a 7.5 floor
    (req("yes", 1, None, "nvidia", cuda="13.0"), ("V100", "P100", "K80", "M40")),
])
def test_a_compute_capability_floor_is_never_met_by_older_gpus(need, too_old) -> None:
    ranked = rank_candidates(need, TWIN, preferred_site=UC)
    assert ranked
    assert not any(old in c.hardware.gpu_model for c in ranked for old in too_old)
    assert adequate(need, one_twin("gpu_v100")).endswith("is older than compute capability "
                                                          f"{need.gpu.min_compute_capability or 7.5:.1f}")


def one_twin(node_type: str):
    return next(n for n in TWIN if n.node_type == node_type)


def test_needs_no_site_meets_say_what_was_looked_for_and_where() -> None:
    cases = {
        "no aarch64 node with a Xilinx FPGA at CHI@NCAR, CHI@TACC or CHI@UC": req(fpga="xilinx", arch="aarch64"),
        "no aarch64 node with an InfiniBand adapter (RDMA) at": req(arch="aarch64", rdma=True),
        "no node with an NVIDIA GPU of compute capability >= 10.0 at": req("yes", 1, None, "nvidia", 10.0),
        "no x86_64 node with 6+ spare NVMe device(s) at": req(local_nvme=6),
    }
    for message, need in cases.items():
        with pytest.raises(NoMatchError) as info:
            rules_choice(need, TWIN, UC)
        assert message in str(info.value) and "looked for" in str(info.value)
        assert info.value.exit_code == 11
