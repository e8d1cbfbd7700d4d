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


# Special hardware a label can ask for (tests/corpus/README.md). NodeRecord fields for these are being added
# (fpga, nvme_count, gpu_compute_capability); until a field exists, the need counts as not met.
SPECIAL_FIELDS = ("fpga_vendor", "cpu_arch", "local_nvme", "rdma", "min_gpu_compute_capability")
_FPGA_NAMES = {"xilinx": ("xilinx", "alveo"), "intel": ("intel", "altera", "arria", "stratix", "agilex")}


def memory_verdict(labels: dict, node: NodeRecord | None) -> bool | None:
    """Is the labelled GPU memory floor honoured? None when no floor applies to this plan.

    The floor is per GPU, or the node's total for a multi-gpu label. A CPU plan is exempt when the label
    allows a CPU node (the floor belongs to the GPU path); a missing plan honours it only when the label
    says no node can meet it."""
    floor = labels.get("min_gpu_memory_gb")
    if not floor:
        return None
    if node is None:
        return bool(labels.get("infeasible"))
    if node.gpu_count <= 0 or node.gpu_vendor == "none":
        return None if labels["node_class"] == "cpu" else False
    have = node.gpu_memory_gb * (node.gpu_count if labels["node_class"] == "multi-gpu" else 1)
    return have >= floor


def special_needs(labels: dict) -> dict[str, object]:
    """The special-hardware needs a label states (empty for labels without them)."""
    return {k: labels[k] for k in SPECIAL_FIELDS if labels.get(k)}


def _fpga_text(node: NodeRecord) -> str:
    parts = [getattr(node, name, None) for name in ("fpga", "fpga_vendor", "fpga_model")]
    return " ".join(str(p) for p in parts if p).lower()


def special_misses(labels: dict, node: NodeRecord | None) -> list[str]:
    """One line per labelled special need the node does not meet (empty when all are met)."""
    needs = special_needs(labels)
    if node is None:
        return [] if labels.get("infeasible") else [f"{k}={v}: no node chosen" for k, v in needs.items()]
    misses = []
    if vendor := needs.get("fpga_vendor"):
        text = _fpga_text(node)
        if not any(name in text for name in _FPGA_NAMES.get(str(vendor), (str(vendor),))):
            misses.append(f"needs a {vendor} FPGA, node has {text or 'none (or no fpga field)'}")
    if (arch := needs.get("cpu_arch")) and node.arch != arch:
        misses.append(f"needs {arch}, node is {node.arch}")
    if needs.get("local_nvme") and not getattr(node, "nvme_count", 0):
        misses.append(f"needs local NVMe, node has nvme_count={getattr(node, 'nvme_count', 'missing')}")
    if needs.get("rdma") and not (node.infiniband or getattr(node, "rdma", False)):
        misses.append("needs RDMA/InfiniBand, node has none")
    if cc_floor := needs.get("min_gpu_compute_capability"):
        cc = getattr(node, "gpu_compute_capability", None)
        if not cc or float(cc) < float(str(cc_floor)):
            misses.append(f"needs compute capability >= {cc_floor}, node's {node.gpu_model or 'GPU'} has "
                          f"{cc if cc is not None else 'no gpu_compute_capability field'}")
    return misses


def image_problem(image: ImageRecord, node: NodeRecord) -> str | None:
    """None if the image's architecture and accelerator stack match the node, read from the name and the
    architecture property only (independently of the image rules): -ARM64 on aarch64, -CUDA on NVIDIA,
    -ROCm on AMD, plain otherwise."""
    name = image.name.lower()
    arch = "aarch64" if ("arm64" in name or "aarch64" in name
                         or image.architecture.lower() in ("aarch64", "arm64")) else "x86_64"
    if arch != node.arch:
        return f"{image.name} is {arch}, node is {node.arch}"
    stack = "cuda" if "cuda" in name else "rocm" if "rocm" in name else "plain"
    has_gpu = node.gpu_count > 0 and node.gpu_vendor != "none"
    wanted = {"nvidia": "cuda", "amd": "rocm"}.get(node.gpu_vendor, "plain") if has_gpu else "plain"
    if stack != wanted or "vgpu" in name:
        return f"{image.name} is a {stack} image, node wants {wanted}"
    return None
