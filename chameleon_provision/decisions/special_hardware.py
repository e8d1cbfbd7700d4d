"""Special hardware a node must have: FPGA boards, spare NVMe devices, InfiniBand, NVDIMM, an architecture,
a GPU generation. hardware_rules asks `special_problem` of every node and `hardware_gap` when nothing fits,
so an infeasible request names the one need no site meets ("no aarch64 node with a Xilinx FPGA at ...").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from chameleon_provision.decisions.gpu_models import compute_capability, cuda_min_capability
from chameleon_provision.models import GpuNeed, NodeRecord, Requirements

_FPGA_NAMES = {"xilinx": "a Xilinx", "intel": "an Intel (Altera)"}


def arch(value: str | None) -> str:
    return "aarch64" if (value or "").lower() in ("aarch64", "arm64", "arm") else "x86_64"


def uses_gpu(need: GpuNeed) -> bool:
    return need.required == "yes" or (need.required == "optional" and need.count > 0)


def fpga_vendor(board: str) -> str:
    """xilinx | intel | "" for a board name such as "Xilinx Alveo U280" or "Altera Arria 10 GX 1150"."""
    text = board.lower()
    if "xilinx" in text or "alveo" in text or "amd" in text:
        return "xilinx"
    if "altera" in text or "intel" in text or "arria" in text or "stratix" in text or "agilex" in text:
        return "intel"
    return ""


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def fpga_problem(req: Requirements, node: NodeRecord) -> str | None:
    wanted = _FPGA_NAMES.get(req.fpga or "", "an")
    if not node.fpga:
        return f"no FPGA board, the workload needs {wanted} FPGA"
    if req.fpga in ("xilinx", "intel") and fpga_vendor(node.fpga) != req.fpga:
        return f"{node.fpga} board, the workload needs {wanted} FPGA"
    return None


def other_board(req: Requirements, node: NodeRecord) -> bool:
    """The board named by the repository (a Vitis platform default) is preferred, not required: the
    kernels rebuild for another board of the same vendor by setting the platform."""
    return bool(req.fpga_model and node.fpga and _squash(req.fpga_model) not in _squash(node.fpga))


def special_problem(req: Requirements, node: NodeRecord) -> str | None:
    if (req.fpga or req.fpga_model) and (problem := fpga_problem(req, node)):
        return problem
    if req.local_nvme and node.nvme_spare < req.local_nvme:
        return f"{node.nvme_spare} spare NVMe device(s), the workload needs {req.local_nvme}"
    if req.rdma and not node.infiniband:
        return "no InfiniBand adapter, the workload needs RDMA"
    if req.persistent_memory and not node.nvdimm:
        return "no persistent memory (NVDIMM)"
    return None


def node_capability(node: NodeRecord) -> float:
    """The node's NVIDIA compute capability (0 without one); records built by hand may lack the field."""
    if node.gpu_vendor != "nvidia" or not node.gpu_count:
        return 0.0
    return node.gpu_compute_capability or compute_capability(node.gpu_model) or 0.0


def min_capability(req: Requirements) -> float | None:
    """The GPU generation floor: the stated one, or the oldest GPU the pinned CUDA version still supports."""
    floors = [cc for cc in (req.gpu.min_compute_capability, cuda_min_capability(req.cuda)) if cc]
    return max(floors) if floors else None


def special_fields(req: Requirements) -> list[tuple[str, ...]]:
    """The Requirements fields behind each entry of special_needs, in the same order."""
    fields = [("fpga", "fpga_model")] if (req.fpga or req.fpga_model) else []
    return fields + [(f,) for f in ("local_nvme", "rdma", "persistent_memory") if getattr(req, f)]


def special_needs(req: Requirements) -> list[str]:
    out = []
    if req.fpga or req.fpga_model:
        vendor = {"xilinx": "Xilinx", "intel": "Intel (Altera)"}.get(req.fpga or "", "")
        board = " ".join(x for x in (vendor, "FPGA") if x)
        board += f" ({req.fpga_model} preferred)" if req.fpga_model else ""
        out.append(f"{'an' if board[0] in 'AEIOU' else 'a'} {board}")
    if req.local_nvme:
        out.append(f"{req.local_nvme}+ spare NVMe device(s)")
    if req.rdma:
        out.append("an InfiniBand adapter (RDMA)")
    if req.persistent_memory:
        out.append("persistent memory (NVDIMM)")
    return out


def sites_text(nodes: Sequence[NodeRecord]) -> str:
    sites = sorted({n.site for n in nodes})
    return " or ".join([", ".join(sites[:-1]), sites[-1]] if len(sites) > 1 else sites) or "any site"


def hardware_gap(req: Requirements, nodes: Sequence[NodeRecord]) -> str | None:
    """"no node with X at SITES" when one special need on its own is met by no node anywhere, else None."""
    wanted = arch(req.arch)
    same_arch = [n for n in nodes if n.arch == wanted]
    if not same_arch:
        return f"no {wanted} node at {sites_text(nodes)}"
    singles = [(label, Requirements(arch=req.arch, **{field: getattr(req, field) for field in fields}))
               for label, fields in zip(special_needs(req), special_fields(req), strict=True)]
    for label, single in singles:
        if not any(special_problem(single, n) is None for n in same_arch):
            return f"no {wanted} node with {label} at {sites_text(nodes)}"
    cc = min_capability(req)
    if uses_gpu(req.gpu) and cc and req.gpu.vendor in ("nvidia", "any") and not any(
            node_capability(n) >= cc for n in same_arch if special_problem(req, n) is None):
        return f"no node with an NVIDIA GPU of compute capability >= {cc:.1f} at {sites_text(nodes)}"
    return None
