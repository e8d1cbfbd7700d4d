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
