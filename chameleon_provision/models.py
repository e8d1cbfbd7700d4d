"""Frozen records shared by the pipeline's modules: requirements, hardware, decisions."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

GpuRequired = Literal["yes", "no", "optional"]
GpuVendor = Literal["nvidia", "amd", "intel", "any", "none"]
DecidedBy = Literal["ai", "rules", "pinned"]


@dataclass(frozen=True)
class Evidence:
    """One quoted fact from a repository that a requirement rests on."""

    file: str
    line: int
    text: str
    signal: str = ""
    confidence: float = 0.5


@dataclass(frozen=True)
class GpuNeed:
    required: GpuRequired = "no"
    count: int = 0
    min_memory_gb: float | None = None  # per GPU
    vendor: GpuVendor = "none"
    # e.g. 8.0 when flash-attn 2 is needed (Ampere or newer); None = any generation
    min_compute_capability: float | None = None
    # GPU memory of the whole node (a model sharded over its GPUs, e.g. 314B parameters); None = no floor
    min_total_memory_gb: float | None = None


@dataclass(frozen=True)
class Requirements:
    """What a repository needs, in hardware-neutral terms (AI decision 1)."""

    gpu: GpuNeed = field(default_factory=GpuNeed)
    cpu_cores: int | None = None
    ram_gb: int | None = None
    arch: str = "x86_64"
    os: str | None = None  # e.g. "ubuntu22.04"
    cuda: str | None = None  # e.g. "12.1"
    rocm: str | None = None
    frameworks: tuple[str, ...] = ()
    estimated_runtime_hours: float | None = None
    # Special hardware (docs/analysis.md, "Special hardware"): an FPGA vendor (xilinx | intel | any) and
    # board model ("U280"), NVMe devices the workload needs besides the system disk, RDMA (InfiniBand)
    # and persistent memory (NVDIMM).
    fpga: str | None = None
    fpga_model: str | None = None
    local_nvme: int = 0
    rdma: bool = False
    persistent_memory: bool = False
    evidence: tuple[Evidence, ...] = ()
    confidence: float = 0.5
    decided_by: DecidedBy = "rules"
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["frameworks"] = list(self.frameworks)
        data["evidence"] = [asdict(e) for e in self.evidence]
        return data


@dataclass(frozen=True)
class NodeRecord:
    """One bare-metal node as the resource discovery API describes it, reduced to what decisions use."""

    site: str  # region name, e.g. "CHI@UC"
    uid: str
    node_name: str
    node_type: str
    arch: str  # x86_64 | aarch64
    cpu_model: str
    cpu_threads: int
    ram_gb: int
    gpu_vendor: str  # "nvidia" | "amd" | "intel" | "none"
    gpu_model: str  # PCI name, "" without a GPU
    gpu_count: int
    gpu_memory_gb: int  # per GPU, 0 without a GPU
    disk_gb: int = 0
    infiniband: bool = False  # an InfiniBand adapter, so RDMA verbs work
    fpga: str = ""  # "Xilinx Alveo U280", "" without an FPGA board
    nvme_count: int = 0  # NVMe devices
    nvme_spare: int = 0  # NVMe devices besides the one the OS boots from
    nvdimm: bool = False  # persistent memory (Chameleon's compute_nvdimm type)
    gpu_compute_capability: float | None = None  # NVIDIA only


@dataclass(frozen=True)
class NodeChoice:
    """AI decision 3: a node type at a site plus the Blazar filter that reserves it."""

    site: str
    node_type: str
    resource_properties: tuple[Any, ...]  # Blazar JSON filter, e.g. ("==", "$node_type", "gpu_rtx_6000")
    hardware: NodeRecord
    candidates: int = 0
    decided_by: DecidedBy = "rules"
    reason: str = ""


@dataclass(frozen=True)
class ImageRecord:
    id: str
    name: str
    status: str = "active"
    # Glance's properties where the listing carried them, "" where it did not: decisions.image_rules.info
    # is the one place that reads an image (properties first, then Chameleon's naming).
    architecture: str = ""
    build_os: str = ""
    build_variant: str = ""  # base | gpu (CUDA) | rocm | arm64 ...
    properties: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ImageChoice:
    image: ImageRecord
    decided_by: DecidedBy = "rules"
    reason: str = ""


@dataclass(frozen=True)
class LeaseWindow:
    """AI decision 4: when the lease starts and ends (UTC)."""

    start: str  # "now" or "YYYY-MM-DD HH:MM"
    end: str  # "YYYY-MM-DD HH:MM"
    hours: float
    decided_by: DecidedBy = "rules"
    reason: str = ""
