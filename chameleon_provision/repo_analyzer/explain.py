"""The human side of a rules decision: the one-line reason and the stack names in `frameworks`."""

from __future__ import annotations

from collections.abc import Sequence

from chameleon_provision.models import GpuNeed
from chameleon_provision.repo_analyzer.facts import Fact
from chameleon_provision.repo_analyzer.signals import category_of

_RUNTIME_NAMES = {"runtime.python": "Python", "runtime.r": "R", "runtime.julia": "Julia"}


def _short(f: Fact) -> str:
    return f"{f.evidence.text[:70]} ({f.evidence.file}:{f.evidence.line})"


def frameworks(facts: Sequence[Fact]) -> tuple[str, ...]:
    names: list[str] = []
    for f in facts:
        if f.signal in ("pkg.framework", "pkg.dl_library", "pkg.language", "pkg.mpi", "build.mpi", "build.openmp",
                        "pkg.stack", "pkg.web", "readme.mpi"):
            names.append(str(f.value))
        elif f.signal in ("runtime.python", "runtime.r", "runtime.julia"):
            names.append(f"{_RUNTIME_NAMES[f.signal]} {f.value}")
        elif f.signal in ("build.cuda", "source.cuda_kernels"):
            names.append("CUDA")
        elif f.signal in ("build.hip", "source.hip_kernels"):
            names.append("HIP")
    return tuple(dict.fromkeys(names))[:10]


def reason(gpu: GpuNeed, evidence: list[Fact], cuda: Fact | None, frameworks: tuple[str, ...]) -> str:
    lead = next((f for f in evidence if category_of(f.signal) in ("gpu_hard", "gpu_soft", "gpu_count")), None)
    cpu = next((f for f in evidence if category_of(f.signal) == "cpu_ok"), None)
    vendor = {"nvidia": "NVIDIA", "amd": "AMD", "intel": "Intel", "any": "any-vendor"}.get(gpu.vendor, "")
    size = f"{gpu.count}x {vendor} GPU" + (f" >= {gpu.min_memory_gb:g} GB" if gpu.min_memory_gb else "") + (
        f", >= {gpu.min_total_memory_gb:g} GB GPU memory in total" if gpu.min_total_memory_gb else "")
    if gpu.required == "yes":
        text = f"needs {size}" + (f": {_short(lead)}" if lead else "")
    elif gpu.required == "optional" and gpu.count:
        text = f"GPU optional, main workload on {size}" + (
            f"; CPU path: {_short(cpu)}" if cpu else (f": {_short(lead)}" if lead else ""))
    elif gpu.required == "optional" and cpu is not None and cpu.signal != "code.cpu_fallback":
        text = f"GPU optional: CPU path documented; --prefer-gpu for a GPU node: {_short(cpu)}"
    elif gpu.required == "optional":
        either = cpu or lead
        text = "CPU main path, GPU optional" + (f": {_short(either)}" if either else "")
    else:
        files = sorted({f.evidence.file for f in evidence})[:3]
        text = "no GPU signals" + (f"; stack: {', '.join(frameworks[:5])}" if frameworks else "") + (
            f" ({', '.join(files)})" if files else "")
    if cuda is not None:
        text += f"; CUDA {cuda.value}"
    return text
