"""Makefiles and CMake: CUDA, HIP, MPI and OpenMP builds, told apart from builds that are merely possible.

A CUDA step inside `if(WITH_CUDA)` / `ifeq ($(GPU),1)`, or behind `option(USE_CUDA ... OFF)`, only
shows that a GPU build exists; the default build is what the rules size the node for. HIP
Makefiles often carry an `ifeq ($(HIP_PLATFORM), nvcc)` branch: it is conditional, so it cannot
outvote the unconditional hipcc lines and turn an AMD project into an NVIDIA one.
"""

from __future__ import annotations

import re

from chameleon_provision.repo_analyzer.facts import FactSink
from chameleon_provision.repo_analyzer.scanner import RepoFile, Scan

_CUDA = re.compile(r"\bnvcc\b|\$\(CUDA_PATH\)|\$\{?CUDA_(?:HOME|PATH|TOOLKIT_ROOT_DIR)|/usr/local/cuda|-lcudart\b|"
                   r"-lcublas\b|-lcuda\b|-gencode\b|-arch=sm_\d+|--gpu-architecture|enable_language\s*\(\s*CUDA\s*\)|"
                   r"find_package\s*\(\s*(?:CUDA|CUDAToolkit)\b|LANGUAGES[^)]*\bCUDA\b|CMAKE_CUDA_|cuda_add_(?:executable|"
                   r"library)|CUDA::cudart", re.I)
_HIP = re.compile(r"\bhipcc\b|/opt/rocm|\$[({]?HIP_PATH|\$[({]?ROCM_PATH|find_package\s*\(\s*(?:hip|HIP|rocm)\b|"
                  r"enable_language\s*\(\s*HIP\s*\)|LANGUAGES[^)]*\bHIP\b|hip::(?:device|host)|--offload-arch|"
                  r"-lamdhip64|amdgpu-target")
_MPI = re.compile(r"\bmpi(?:cc|cxx|c\+\+|f90|fort|icc|icpc)\b|find_package\s*\(\s*MPI\b|-lmpi\b|\bmpirun\b", re.I)
_OPENMP = re.compile(r"-f?openmp\b|-qopenmp\b|find_package\s*\(\s*OpenMP\b", re.I)
_OPTION = re.compile(r"option\s*\(\s*(\w*(?:CUDA|GPU|HIP|ROCM)\w*)\s+\"[^\"]*\"\s+(ON|OFF|TRUE|FALSE)\s*\)", re.I)
_MAKE_SWITCH = re.compile(r"^\s*(?:USE_)?(CUDA|GPU|HIP)\s*[?:]?=\s*(0|1|yes|no|true|false)\s*$", re.I)


def _emit(sink: FactSink, raw: str, no: int, conditional: bool) -> None:
    if _HIP.search(raw):
        sink.add("build.cuda_optional" if conditional else "build.hip", "amd", no, raw,
                 confidence=0.45 if conditional else None)
    elif _CUDA.search(raw):
        sink.add("build.cuda_optional" if conditional else "build.cuda", "nvidia", no, raw)
    if _MPI.search(raw):
        sink.add("build.mpi", "MPI", no, raw, confidence=0.55 if conditional else None)
    if _OPENMP.search(raw):
        sink.add("build.openmp", "OpenMP", no, raw)


_RECIPE_CPU = re.compile(r"\$[({](?:CC|CXX|MPICC|MPICXX|FC|MPIFC|LD)[)}]|\b(?:gcc|g\+\+|clang\+?\+?|icc|icpc|icx|"
                         r"mpicc|mpicxx|mpic\+\+|gfortran|ifort)\b")
_RECIPE_GPU = re.compile(r"\bnvcc\b|\$[({]NVCC[)}]|\bhipcc\b|\$[({]HIPCC[)}]")


def _gpu_one_target_of_many(text: str) -> bool:
    """A Makefile that builds CPU programs and, as further targets, CUDA ones (Cxx11/: omp, tbb, cuda...)."""
    recipes = [ln for ln in text.splitlines() if ln.startswith("\t")]
    gpu = [ln for ln in recipes if _RECIPE_GPU.search(ln)]
    cpu = [ln for ln in recipes if _RECIPE_CPU.search(ln) and not _RECIPE_GPU.search(ln)]
    return bool(gpu) and len(cpu) >= len(gpu)


def parse_make(f: RepoFile, sink: FactSink) -> None:
    base = 1 if _gpu_one_target_of_many(f.text) else 0  # then every GPU step is one option among CPU ones
    depth = base
    for no, raw in enumerate(f.text.splitlines(), 1):
        line = raw.split("#", 1)[0]
        stripped = line.strip()
        if re.match(r"^(ifeq|ifneq|ifdef|ifndef)\b", stripped):
            depth += 1
        elif stripped.startswith("endif"):
            depth = max(base, depth - 1)
        if m := _MAKE_SWITCH.match(line):
            if m.group(2).lower() in ("0", "no", "false"):
                sink.add("build.cuda_optional", "nvidia" if m.group(1).upper() != "HIP" else "amd", no, raw)
            continue
        _emit(sink, line, no, depth > 0)


def parse_cmake(f: RepoFile, sink: FactSink) -> None:
    depth = 0
    for no, raw in enumerate(f.text.splitlines(), 1):
        line = raw.split("#", 1)[0]
        stripped = line.strip().lower()
        if re.match(r"^if\s*\(", stripped):
            depth += 1
        elif re.match(r"^endif\s*\(", stripped):
            depth = max(0, depth - 1)
        if m := _OPTION.search(line):
            on = m.group(2).upper() in ("ON", "TRUE")
            vendor = "amd" if re.search(r"HIP|ROCM", m.group(1), re.I) else "nvidia"
            sink.add(("build.hip" if vendor == "amd" else "build.cuda") if on else "build.cuda_optional", vendor, no,
                     raw, confidence=0.6 if on else None)
            continue
        required = bool(re.search(r"find_package\s*\([^)]*\bREQUIRED\b", line))
        _emit(sink, line, no, depth > 0 and not required)


def kernel_sources(scan: Scan, sink_for: dict[str, FactSink]) -> None:
    """.cu/.hip files outside vendored trees (their names, not their text)."""
    for ext, signal, vendor in ((".cu", "source.cuda_kernels", "nvidia"), (".hip", "source.hip_kernels", "amd")):
        paths = scan.kernel_sources.get(ext) or []
        if paths:
            count = scan.extensions[ext] + (scan.extensions[".cuh"] if ext == ".cu" else 0)
            # kernels next to the main sources make a GPU code; kernels deep in one port of many do not
            depth = paths[0].count("/")
            factor = 1.0 if depth <= 1 else (0.7 if depth == 2 else 0.55)
            sink = sink_for.setdefault(paths[0], FactSink(paths[0], factor=factor))
            sink.add(signal, vendor, 1, f"{count} {ext} kernel source file(s), e.g. {', '.join(paths[:3])}")
