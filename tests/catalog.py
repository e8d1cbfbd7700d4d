"""A hand-built Chameleon catalog for tests: CHI@UC and CHI@TACC node types (reference/chameleon.md §1)
and the supported images (§4). One NodeRecord per host, so candidate host counts are realistic."""

from __future__ import annotations

from chameleon_provision.decisions.gpu_models import gpu_memory_gb
from chameleon_provision.models import ImageRecord, NodeRecord

UC, TACC = "CHI@UC", "CHI@TACC"
A100_80 = "GA100 [A100 PCIe 80GB]"
A100_40 = "GA100 [A100 PCIe 40GB]"

# (site, node_type, hosts, arch, threads, ram GiB, gpu vendor, gpu model, gpus per host, infiniband)
TYPES: tuple[tuple[str, str, int, str, int, int, str, str, int, bool], ...] = (
    (TACC, "compute_skylake", 32, "x86_64", 48, 192, "none", "", 0, False),
    (TACC, "compute_cascadelake", 24, "x86_64", 64, 192, "none", "", 0, False),
    (TACC, "compute_cascadelake_r", 56, "x86_64", 96, 192, "none", "", 0, False),
    (TACC, "compute_icelake_r650", 52, "x86_64", 160, 256, "none", "", 0, False),
    (TACC, "compute_icelake_r750", 20, "x86_64", 160, 256, "none", "", 0, False),
    (TACC, "compute_zen3", 32, "x86_64", 256, 256, "none", "", 0, False),
    (TACC, "compute_arm64", 8, "aarch64", 48, 32, "none", "", 0, False),
    (TACC, "compute_haswell_ib", 17, "x86_64", 48, 128, "none", "", 0, True),
    (TACC, "compute_gigaio", 2, "x86_64", 160, 256, "none", "", 0, False),
    (TACC, "compute_gigaio", 2, "x86_64", 160, 256, "nvidia", "GA100GL [A30 PCIe]", 1, False),
    (TACC, "compute_gigaio", 2, "x86_64", 160, 256, "nvidia", A100_40, 1, False),
    (TACC, "compute_liqid", 6, "x86_64", 256, 256, "nvidia", A100_40, 1, False),
    (TACC, "compute_liqid", 2, "x86_64", 256, 256, "nvidia", A100_40, 2, False),
    (TACC, "gpu_h100", 2, "x86_64", 192, 1024, "nvidia", "GH100 [H100 SXM5 94GB]", 4, False),
    (TACC, "gpu_mi100", 8, "x86_64", 256, 256, "amd", "Arcturus GL-XL [Instinct MI100]", 2, False),
    (TACC, "gpu_pontevecchio", 2, "x86_64", 96, 1024, "intel",
     "Ponte Vecchio XT (2 Tile) [Data Center GPU Max 1550]", 4, False),
    (TACC, "gpu_p100", 15, "x86_64", 48, 128, "nvidia", "GP100GL [Tesla P100 PCIe 16GB]", 2, False),
    (TACC, "gpu_p100_nvlink", 1, "x86_64", 56, 128, "nvidia", "GP100GL [Tesla P100 SXM2 16GB]", 2, False),
    (TACC, "gpu_p100_nvlink", 3, "x86_64", 56, 128, "nvidia", "GP100GL [Tesla P100 SXM2 16GB]", 4, False),
    (TACC, "gpu_p100_v100", 1, "x86_64", 48, 128, "nvidia", "GV100GL [Tesla V100 PCIe 16GB]", 2, False),
    (TACC, "gpu_k80", 2, "x86_64", 48, 128, "nvidia", "GK210GL [Tesla K80]", 2, False),
    (TACC, "gpu_m40", 2, "x86_64", 48, 128, "nvidia", "GM200GL [Tesla M40]", 1, False),
    (TACC, "storage", 20, "x86_64", 40, 64, "none", "", 0, False),
    (TACC, "storage_hierarchy", 2, "x86_64", 48, 512, "none", "", 0, False),
    (UC, "compute_skylake", 23, "x86_64", 48, 192, "none", "", 0, False),
    (UC, "compute_cascadelake_r", 42, "x86_64", 96, 192, "none", "", 0, False),
    (UC, "compute_nvdimm", 2, "x86_64", 224, 3840, "none", "", 0, False),
    (UC, "compute_gigaio", 1, "x86_64", 256, 512, "none", "", 0, False),
    (UC, "compute_gigaio", 7, "x86_64", 256, 512, "nvidia", A100_80, 1, False),
    (UC, "gpu_rtx_6000", 37, "x86_64", 48, 192, "nvidia", "TU102GL [Quadro RTX 6000/8000]", 1, False),
    (UC, "gpu_a100_pcie", 4, "x86_64", 160, 512, "nvidia", A100_80, 4, False),
    (UC, "gpu_a100_nvlink", 1, "x86_64", 256, 512, "nvidia", "GA100 [A100 SXM4 80GB]", 4, False),
    (UC, "gpu_v100", 3, "x86_64", 80, 128, "nvidia", "GV100GL [Tesla V100 SXM2 32GB]", 4, False),
    (UC, "gpu_v100", 1, "x86_64", 80, 128, "nvidia", "GV100GL [Tesla V100 PCIe 32GB]", 4, False),
    (UC, "storage_nvme", 10, "x86_64", 48, 256, "none", "", 0, False),
    (UC, "fpga", 1, "x86_64", 48, 192, "none", "", 0, False),
)


def nodes(sites: tuple[str, ...] = (UC, TACC)) -> list[NodeRecord]:
    out = []
    numbered: dict[tuple[str, str], int] = {}  # node names are unique per site, across a type's variants
    for site, node_type, hosts, arch, threads, ram, vendor, model, gpus, ib in TYPES:
        if site not in sites:
            continue
        for i in range(hosts):
            number = numbered[(site, node_type)] = numbered.get((site, node_type), -1) + 1
            out.append(NodeRecord(site=site, uid=f"{site[4:].lower()}-{node_type}-{model[:6]}-{gpus}-{i}",
                                  node_name=f"{node_type}-{number}", node_type=node_type, arch=arch,
                                  cpu_model="Xeon" if arch == "x86_64" else "ARM", cpu_threads=threads, ram_gb=ram,
                                  gpu_vendor=vendor, gpu_model=model, gpu_count=gpus,
                                  gpu_memory_gb=gpu_memory_gb(model), infiniband=ib))
    return out


IMAGE_NAMES = ("CC-Ubuntu20.04", "CC-Ubuntu22.04", "CC-Ubuntu24.04", "CC-Ubuntu26.04", "CC-Ubuntu20.04-CUDA",
               "CC-Ubuntu22.04-CUDA", "CC-Ubuntu24.04-CUDA", "CC-Ubuntu24.04-ROCm", "CC-Ubuntu22.04-ARM64",
               "CC-Ubuntu24.04-ARM64", "CC-Ubuntu24.04-CUDA-VGPU", "CC-Centos9-Stream")


def images(*, with_properties: bool = False, names: tuple[str, ...] = IMAGE_NAMES) -> list[ImageRecord]:
    out = []
    for i, name in enumerate(names):
        arch = "aarch64" if "ARM64" in name else "x86_64"
        variant = ("gpu" if "CUDA" in name else "rocm" if "ROCm" in name else "base") if with_properties else ""
        build_os = {"20.04": "ubuntu-focal", "22.04": "ubuntu-jammy", "24.04": "ubuntu-noble"}.get(
            name[9:14], "") if with_properties else ""
        out.append(ImageRecord(id=f"img-{i}", name=name, architecture=arch if with_properties else "x86_64",
                               build_os=build_os, build_variant=variant))
    return out


# --- corpus evaluation: shared by tests/test_corpus.py and benchmarks/analysis_accuracy.py ---
CLASS_ORDER = ("cpu", "gpu_small", "gpu_large", "multi-gpu")


def effective_class(node: NodeRecord, catalog: list[NodeRecord]) -> str:
    """The node's class, except that a vendor whose GPUs only come several to a node (AMD MI100 on
    Chameleon, see the corpus README) is classed by one GPU: that is the smallest unit one can reserve."""
    from chameleon_provision.decisions.hardware_rules import node_class

    cls = node_class(node)
    if cls == "multi-gpu":
        fewest = min((n.gpu_count for n in catalog if n.gpu_vendor == node.gpu_vendor and n.gpu_count), default=1)
        if fewest == node.gpu_count:
            return "gpu_large" if node.gpu_memory_gb >= 40 else "gpu_small"
    return cls


def judge(labels: dict, node: NodeRecord, catalog: list[NodeRecord]) -> tuple[bool, bool, str]:
    """(class within [node_class, full_scale_node_class], vendor right, effective class)."""
    cls = effective_class(node, catalog)
    lo, hi = CLASS_ORDER.index(labels["node_class"]), CLASS_ORDER.index(labels["full_scale_node_class"])
    in_range = lo <= CLASS_ORDER.index(cls) <= hi
    wanted = labels["gpu_vendor"]
    if node.gpu_count == 0 or node.gpu_vendor == "none":
        vendor_ok = wanted == "none" or labels["node_class"] == "cpu"
    else:
        vendor_ok = wanted == "any" or node.gpu_vendor == wanted
    return in_range, vendor_ok, cls
