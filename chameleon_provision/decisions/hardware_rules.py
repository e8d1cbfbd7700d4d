"""Node choice by rules: every adequate (site, node type, hardware variant), smallest adequate first.

Order for a GPU workload: the right vendor ("any" means NVIDIA first), current generations before
legacy ones (K80/M40/P100), fewest GPUs, least memory per GPU that still fits, then the preferred
site, then plain hosts before composable/special ones, less RAM and fewer threads, more hosts. So
an RTX 6000 is offered before an A100, and an A100 before an H100. A CPU workload gets plain compute
nodes first and GPU nodes last. Node types that mix hardware (compute_gigaio, compute_liqid,
gpu_v100, gpu_p100_nvlink) are split per variant and reserved with a filter on the GPU model or
count, so the host Blazar hands out really has that GPU.

Special hardware (FPGA boards, InfiniBand, spare NVMe devices, NVDIMM, aarch64, a GPU generation) is
a hard need: it is never relaxed, and where no node at any site has it, NoMatchError names it. Boards
fitted to only some nodes of a type (UC's two Alveo U280 among compute_cascadelake_r) are reserved by
`$node_name`, like GPU variants.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from chameleon_provision.decisions.gpu_models import compute_capability
from chameleon_provision.decisions.special_hardware import (
    arch as _arch,
)
from chameleon_provision.decisions.special_hardware import (
    hardware_gap,
    min_capability,
    other_board,
    special_needs,
    special_problem,
    uses_gpu,
)
from chameleon_provision.errors import NoMatchError
from chameleon_provision.models import GpuNeed, NodeRecord, Requirements

NODE_CLASSES = ("cpu", "gpu_small", "gpu_large", "multi-gpu")
LEGACY_CC = 7.0  # older than Volta: dropped by current CUDA/PyTorch builds, ranked last
__all__ = ["compute_capability", "min_capability"]  # re-exported from gpu_models and special_hardware
_SPECIAL = re.compile(r"^(storage|fpga|compute_nvdimm|compute_gigaio|compute_liqid)|_ib$")
# Only keys that every Chameleon Blazar host carries, old and doni-enrolled alike: Blazar drops a host that
# lacks a key named in the filter, and newer hosts have no gpu.*, architecture.* or uid at all.
_ALLOWED_PROPS = {"$node_type": "node_type", "$node_name": "node_name"}


@dataclass(frozen=True)
class NodeCandidate:
    site: str
    node_type: str
    resource_properties: tuple[Any, ...]
    hardware: NodeRecord
    hosts: int
    score: tuple[Any, ...]
    reason: str
    # For a node type that mixes hardware: the nodes of this variant, one of which is reserved by
    # `$node_name` (as python-chi does); empty when `$node_type` alone selects the hardware.
    node_names: tuple[str, ...] = ()

    def with_node(self, node_name: str) -> NodeCandidate:
        return replace(self, resource_properties=("==", "$node_name", node_name))


def node_class(node: NodeRecord) -> str:
    """cpu | gpu_small (one GPU < 40 GB) | gpu_large (one GPU >= 40 GB) | multi-gpu."""
    if node.gpu_count <= 0 or node.gpu_vendor == "none":
        return "cpu"
    if node.gpu_count > 1:
        return "multi-gpu"
    return "gpu_large" if node.gpu_memory_gb >= 40 else "gpu_small"


def _vendor_ok(wanted: str, vendor: str) -> bool:
    if wanted in ("any", "none", ""):
        return vendor in ("nvidia", "amd")
    return vendor == wanted


def _gpu_problem(need: GpuNeed, node: NodeRecord) -> str | None:
    if node.gpu_count <= 0 or node.gpu_vendor == "none":
        return "no GPU"
    if not _vendor_ok(need.vendor, node.gpu_vendor):
        return f"{node.gpu_vendor} GPUs, the workload needs {need.vendor}"
    count = max(1, need.count)
    if node.gpu_count < count:
        return f"{node.gpu_count} GPU(s), the workload needs {count}"
    if need.min_memory_gb and node.gpu_memory_gb < need.min_memory_gb:
        return f"{node.gpu_memory_gb} GB per GPU, the workload needs {need.min_memory_gb:g} GB"
    if need.min_total_memory_gb and node.gpu_count * node.gpu_memory_gb < need.min_total_memory_gb:
        return (f"{node.gpu_count * node.gpu_memory_gb} GB of GPU memory in total, the workload needs "
                f"{need.min_total_memory_gb:g} GB")
    if need.min_compute_capability and node.gpu_vendor == "nvidia":
        cc = compute_capability(node.gpu_model)
        if cc is None or cc < need.min_compute_capability:
            return f"{node.gpu_model or 'its GPU'} is older than compute capability {need.min_compute_capability:.1f}"
    return None


def adequate(req: Requirements, node: NodeRecord) -> str | None:
    """None if the node can run the workload, else one line saying why not."""
    if node.arch != _arch(req.arch):
        return f"{node.arch} node, the workload needs {_arch(req.arch)}"
    if special := special_problem(req, node):
        return special
    if req.cpu_cores and node.cpu_threads < req.cpu_cores:
        return f"{node.cpu_threads} CPU threads, the workload needs {req.cpu_cores}"
    if req.ram_gb and node.ram_gb < req.ram_gb * 0.95:  # 187 GiB hosts count as 192
        return f"{node.ram_gb} GB RAM, the workload needs {req.ram_gb}"
    gpu = replace(req.gpu, min_compute_capability=min_capability(req))
    if req.gpu.required == "yes":
        return _gpu_problem(gpu, node)
    if req.gpu.required == "optional" and node.gpu_count > 0:
        # a GPU node is only worth reserving if the workload's GPU path can use its GPUs
        return _gpu_problem(replace(gpu, count=max(1, req.gpu.count)), node)
    return None


def _score(req: Requirements, node: NodeRecord, hosts: int, preferred: bool) -> tuple[Any, ...]:
    special = 1 if (_SPECIAL.search(node.node_type) or node.infiniband or (node.fpga and not req.fpga)) else 0
    # a board still on its factory golden image needs flashing first; fewer spare NVMe devices are the smaller node
    extra = (other_board(req, node), "golden" in node.fpga.lower(), node.nvme_spare if req.local_nvme else 0)
    site = (0 if preferred else 1, -hosts, node.site, node.node_type)
    if uses_gpu(req.gpu):
        wanted = req.gpu.vendor
        vendor = 0 if wanted not in ("any", "none", "") else {"nvidia": 0, "amd": 1}.get(node.gpu_vendor, 2)
        cc = compute_capability(node.gpu_model)
        legacy = 1 if node.gpu_vendor == "nvidia" and cc is not None and cc < LEGACY_CC else 0
        return (0 if node.gpu_count else 1, vendor, legacy, node.gpu_count, node.gpu_memory_gb, *extra, site[0],
                special, node.ram_gb, node.cpu_threads, *site[1:])
    return (1 if node.gpu_count else 0, special, *extra, node.gpu_count, node.gpu_memory_gb, site[0], node.ram_gb,
            node.cpu_threads, *site[1:])


def _variant(req: Requirements, node: NodeRecord) -> tuple[Any, ...]:
    """The hardware that tells hosts of one type apart, as far as this need cares. An FPGA card always does:
    a run that needs none reserves a plain host of the type by name, and the few cards stay free."""
    return (node.gpu_model, node.gpu_count, node.fpga,
            node.nvme_spare if req.local_nvme else 0, node.infiniband if req.rdma else False)


def _properties(node: NodeRecord, variants: set[tuple[Any, ...]]) -> tuple[Any, ...]:
    """`$node_type` where it selects the hardware; else this node by name (the planner may swap in a free one)."""
    if len(variants) <= 1:
        return ("==", "$node_type", node.node_type)
    return ("==", "$node_name", node.node_name)


def _describe(node: NodeRecord) -> str:
    if node.gpu_count:
        cc = f", CC {node.gpu_compute_capability:.1f}" if node.gpu_compute_capability else ""
        text = (f"{node.gpu_count}x {node.gpu_model} ({node.gpu_memory_gb} GB{cc}), {node.cpu_threads} threads, "
                f"{node.ram_gb} GB RAM")
    else:
        text = f"{node.cpu_threads} threads, {node.ram_gb} GB RAM, no GPU"
    extras = [node.arch if node.arch != "x86_64" else "", node.fpga and f"FPGA {node.fpga}",
              node.nvme_spare and f"{node.nvme_spare} spare NVMe", "InfiniBand" if node.infiniband else "",
              "NVDIMM" if node.nvdimm else ""]
    return ", ".join([text, *[e for e in extras if e]])


def describe_need(req: Requirements) -> str:
    gpu = req.gpu
    if uses_gpu(gpu):
        vendor = {"nvidia": "NVIDIA", "amd": "AMD", "intel": "Intel"}.get(gpu.vendor, "any-vendor")
        text = f"{max(1, gpu.count)}x {vendor} GPU" + (f" >= {gpu.min_memory_gb:g} GB" if gpu.min_memory_gb else "")
        if gpu.min_total_memory_gb:
            text += f", >= {gpu.min_total_memory_gb:g} GB GPU memory in total"
        cc = min_capability(req) if gpu.vendor in ("nvidia", "any") else None
        text += f", compute capability >= {cc:.1f}" if cc else ""
    else:
        text = "CPU" + (" (GPU optional; --prefer-gpu for a GPU node)" if gpu.required == "optional" else "")
    return ", ".join([text, *special_needs(req)]) + (f", {req.cpu_cores}+ threads" if req.cpu_cores else "") + (
        f", {req.ram_gb}+ GB RAM" if req.ram_gb else "") + f", {_arch(req.arch)}"


def _rank(req: Requirements, nodes: Sequence[NodeRecord], preferred_site: str | None,
          note: str) -> list[NodeCandidate]:
    groups: dict[tuple[Any, ...], list[NodeRecord]] = {}
    variants: dict[tuple[str, str], set[tuple[Any, ...]]] = {}
    for n in nodes:
        groups.setdefault((n.site, n.node_type, *_variant(req, n)), []).append(n)
        variants.setdefault((n.site, n.node_type), set()).add(_variant(req, n))
    out = []
    for (site, node_type, *_hardware), members in groups.items():
        fit = [n for n in members if adequate(req, n) is None]
        if not fit:
            continue
        shapes = Counter((n.cpu_threads, n.ram_gb, n.gpu_memory_gb) for n in fit)
        top = max(shapes.items(), key=lambda kv: (kv[1], -kv[0][0]))[0]
        rep = next(n for n in fit if (n.cpu_threads, n.ram_gb, n.gpu_memory_gb) == top)
        mixed = len(variants[(site, node_type)]) > 1
        props = _properties(rep, variants[(site, node_type)])
        reason = (f"{node_type} at {site}: {_describe(rep)}; {len(fit)} host(s); "
                  f"smallest adequate for {describe_need(req)}")
        if other_board(req, rep):
            reason += f"; the repository targets a {req.fpga_model}: rebuild its kernels for the {rep.fpga}"
        out.append(NodeCandidate(site, node_type, props, rep, len(fit),
                                 _score(req, rep, len(fit), site == preferred_site), reason + note,
                                 tuple(sorted(n.node_name for n in fit)) if mixed else ()))
    return sorted(out, key=lambda c: c.score)


def _relax(req: Requirements, nodes: Sequence[NodeRecord]) -> tuple[Requirements, str] | None:
    """The nearest satisfiable need when nothing fits: fewer threads/RAM/GPUs, memory spread, any generation."""
    same_arch = [n for n in nodes if n.arch == _arch(req.arch)]
    threads = max((n.cpu_threads for n in same_arch), default=0)
    if req.cpu_cores and threads and req.cpu_cores > threads:
        return replace(req, cpu_cores=threads), f"; no node has {req.cpu_cores} threads, using {threads}"
    ram = max((n.ram_gb for n in same_arch), default=0)
    if req.ram_gb and ram and req.ram_gb > ram:
        return replace(req, ram_gb=ram), f"; no node has {req.ram_gb} GB RAM, using {ram} GB"
    need = req.gpu
    if not uses_gpu(need):
        return None
    usable = [n for n in nodes if n.arch == _arch(req.arch) and _vendor_ok(need.vendor, n.gpu_vendor)
              and n.gpu_count > 0]
    if not usable:
        return None
    mem_ok = [n for n in usable if not need.min_memory_gb or n.gpu_memory_gb >= need.min_memory_gb]
    most = max((n.gpu_count for n in mem_ok), default=0)
    if need.count > most > 0:
        return replace(req, gpu=replace(need, count=most)), f"; no node has {need.count} GPUs, using {most}"
    if need.min_memory_gb and not mem_ok:
        total = need.min_memory_gb * max(1, need.count)
        fits = [n for n in usable if n.gpu_count * n.gpu_memory_gb >= total]
        if fits:
            count = min(n.gpu_count for n in fits)
            per_gpu = math.ceil(total / count)
            per_gpu = min(per_gpu, max(n.gpu_memory_gb for n in fits if n.gpu_count == count))
            return (replace(req, gpu=replace(need, count=count, min_memory_gb=float(per_gpu))),
                    f"; {total:g} GB spread over {count} GPUs")
    # A compute-capability floor is never relaxed: code built for sm_80 does not run on an older GPU.
    return None


def rank_candidates(req: Requirements, nodes: Sequence[NodeRecord], *,
                    preferred_site: str | None = None) -> list[NodeCandidate]:
    note = ""
    first: list[NodeCandidate] | None = None
    for _ in range(4):
        ranked = _rank(req, nodes, preferred_site, note)
        first = ranked if first is None else first
        # an optional GPU need whose GPU path fits nowhere is relaxed before settling for CPU nodes
        if ranked and (not uses_gpu(req.gpu) or any(c.hardware.gpu_count for c in ranked)):
            return ranked
        relaxed = _relax(req, nodes)
        if relaxed is None:
            break
        req, extra = relaxed
        note += extra
    if req.gpu.min_total_memory_gb and uses_gpu(req.gpu):
        return []  # a GPU path that needs more memory than any node has is infeasible, not a CPU plan
    return first or []


def no_match(req: Requirements, nodes: Sequence[NodeRecord]) -> NoMatchError:
    """Why nothing fits: the special hardware no site has, a GPU memory floor above every node, or what
    most nodes lack. Each is an infeasible request that names what was looked for."""
    hint = "check the evidence with `provision analyze`, or pin --node-type"
    if gap := hardware_gap(req, nodes):
        return NoMatchError(f"{gap} (looked for {describe_need(req)})", hint=hint)
    total = req.gpu.min_total_memory_gb
    gpu_nodes = [n for n in nodes if n.gpu_count > 0 and n.arch == _arch(req.arch)
                 and _vendor_ok(req.gpu.vendor, n.gpu_vendor)]
    largest = max(gpu_nodes, key=lambda n: n.gpu_count * n.gpu_memory_gb, default=None)
    if total and uses_gpu(req.gpu) and (largest is None or largest.gpu_count * largest.gpu_memory_gb < total):
        biggest = (f"the largest is {largest.node_type} at {largest.site} with {largest.gpu_count}x "
                   f"{largest.gpu_memory_gb} GB = {largest.gpu_count * largest.gpu_memory_gb} GB"
                   if largest else "no node has a GPU")
        return NoMatchError(f"infeasible request: looked for {describe_need(req)}, but no Chameleon node at any "
                            f"site has {total:g} GB of GPU memory in total ({biggest})",
                            hint="a smaller model, fewer parameters or lower precision (8-bit, 4-bit) would fit")
    reasons = Counter(r for n in nodes if (r := adequate(req, n)))
    common = f"; most nodes: {reasons.most_common(1)[0][0]}" if reasons else "; the catalog is empty"
    return NoMatchError(f"no Chameleon node meets the need ({describe_need(req)}){common}", hint=hint)


def rules_choice(req: Requirements, nodes: Sequence[NodeRecord], preferred_site: str | None = None) -> NodeCandidate:
    ranked = rank_candidates(req, nodes, preferred_site=preferred_site)
    if ranked:
        return ranked[0]
    raise no_match(req, nodes)


def resource_properties_valid(props: Any, nodes: Sequence[NodeRecord], site: str) -> str | None:
    """None if props is a Blazar filter we can trust at this site: equality on $node_type or $node_name, real hosts."""
    if not isinstance(props, list | tuple) or not props:
        return "resource_properties must be a non-empty JSON array"
    leaves = list(props[1:]) if props[0] == "and" else [props]
    if not leaves:
        return "an 'and' needs at least one condition"
    for leaf in leaves:
        if not (isinstance(leaf, list | tuple) and len(leaf) == 3 and all(isinstance(x, str) for x in leaf)):
            return f"{json.dumps(leaf)} is not a [op, \"$property\", \"value\"] triple of strings"
        if leaf[0] not in ("==", "="):
            return f"operator {leaf[0]!r} is not allowed (Blazar compares strings; use ==)"
        if leaf[1] not in _ALLOWED_PROPS:
            return f"property {leaf[1]} is not one of {', '.join(sorted(_ALLOWED_PROPS))}"
    if not any(leaf[1] in ("$node_type", "$node_name") for leaf in leaves):
        return "a $node_type or $node_name condition is required"
    here = [n for n in nodes if n.site == site]
    match = [n for n in here if all(str(getattr(n, _ALLOWED_PROPS[leaf[1]])) == leaf[2] for leaf in leaves)]
    if not match:
        return f"no host at {site} matches {json.dumps(props)}"
    if len({(n.gpu_model, n.gpu_count) for n in match}) > 1:
        return (f"{json.dumps(props)} admits hosts with different GPUs at {site}; "
                "reserve one node of the wanted hardware with [\"==\", \"$node_name\", NAME]")
    return None
