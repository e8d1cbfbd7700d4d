"""R, Julia, Nix, apt.txt and package.json, plus which repo2docker buildpack would build the repo."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from chameleon_provision.repo_analyzer.facts import FactSink, line_of
from chameleon_provision.repo_analyzer.packages import WEB_FRAMEWORKS
from chameleon_provision.repo_analyzer.scanner import RepoFile

# R and Julia packages that put work on a GPU (R's torch/tensorflow/keras bind the same libraries).
_R_GPU = {"gpur": "nvidia", "cuda.ml": "nvidia", "gpumatrix": "nvidia"}
_R_DL = {"torch", "tensorflow", "keras", "keras3", "luz"}
_JULIA_GPU = {"CUDA": "nvidia", "CUDAnative": "nvidia", "CuArrays": "nvidia", "AMDGPU": "amd", "oneAPI": "intel"}
_JULIA_DL = {"Flux", "Lux", "Knet"}
_APT_GPU = re.compile(r"^(nvidia-[\w.-]+|cuda[\w.-]*|libcudnn[\w.-]*|libnccl[\w.-]*)$")
_APT_AMD = re.compile(r"^(rocm[\w.-]*|hip[\w-]*|miopen[\w.-]*|rccl[\w.-]*)$")
_APT_MPI = re.compile(r"^(openmpi-bin|libopenmpi-dev|mpich|libmpich-dev|intel-mpi[\w.-]*)$")
_NIX_GPU = re.compile(r"cudaPackages|cudatoolkit|cudnn|cudaSupport\s*=\s*true|nvidia_x11")
_NIX_AMD = re.compile(r"rocmPackages|rocmSupport\s*=\s*true")
_NODE_GPU = {"@tensorflow/tfjs-node-gpu": ("pkg.gpu_build", "nvidia"), "gpu.js": ("pkg.framework", "gpu.js")}


def _r_packages(f: RepoFile, sink: FactSink, names: Sequence[tuple[str, int]]) -> None:
    sink.add("pkg.language", "R", names[0][1] if names else 1, f.text.splitlines()[0] if f.text else "R")
    for name, line in names:
        raw = f.text.splitlines()[line - 1] if f.text else name
        if name.lower() in _R_GPU:
            sink.add("pkg.gpu_build", _R_GPU[name.lower()], line, raw)
        elif name in _R_DL:
            sink.add("pkg.framework", f"R {name}", line, raw)
        elif name.lower() in WEB_FRAMEWORKS:
            sink.add("pkg.web", WEB_FRAMEWORKS[name.lower()], line, raw)


def parse_install_r(f: RepoFile, sink: FactSink) -> None:
    found = []
    for no, raw in enumerate(f.text.splitlines(), 1):
        for call in re.finditer(r"install(?:\.packages|_version|_github|_cran)?\s*\(\s*(?:c\()?([^)]*)\)", raw):
            for name in re.findall(r"['\"]([A-Za-z][\w.]*/)?([A-Za-z][\w.]*)['\"]", call.group(1)):
                found.append((name[1], no))
    _r_packages(f, sink, found)


def parse_description(f: RepoFile, sink: FactSink) -> None:
    found, field = [], ""
    for no, raw in enumerate(f.text.splitlines(), 1):
        if m := re.match(r"^([A-Za-z]+):(.*)$", raw):
            field, rest = m.group(1), m.group(2)
        else:
            rest = raw
        if field in ("Imports", "Depends", "LinkingTo"):
            found += [(n, no) for n in re.findall(r"\b([A-Za-z][\w.]*)\s*(?:\(|,|$)", rest) if n != "R"]
    _r_packages(f, sink, found)


def parse_renv(f: RepoFile, sink: FactSink) -> None:
    try:
        data = json.loads(f.text)
    except json.JSONDecodeError:
        return
    version = str((data.get("R") or {}).get("Version", ""))
    if version:
        sink.add("runtime.r", version, line_of(f.text, '"Version"'), f'"R": {{"Version": "{version}"}}')
    names = [(n, line_of(f.text, f'"{n}"')) for n in (data.get("Packages") or {})]
    _r_packages(f, sink, names)


def parse_julia(f: RepoFile, sink: FactSink) -> None:
    sink.add("pkg.language", "Julia", 1, f.text.splitlines()[0] if f.text.strip() else f.rel)
    for no, raw in enumerate(f.text.splitlines(), 1):
        m = re.match(r"^\s*(?:\[\[deps\.)?([A-Za-z][\w]*)(?:\]\])?\s*(?:=|$)", raw)
        if m and m.group(1) in _JULIA_GPU:
            sink.add("pkg.gpu_build", _JULIA_GPU[m.group(1)], no, raw)
        elif m and m.group(1) in _JULIA_DL:
            sink.add("pkg.framework", f"Julia {m.group(1)}", no, raw)
        if c := re.match(r'^\s*julia\s*=\s*"[^\d]*(\d+\.\d+)', raw):
            sink.add("runtime.julia", c.group(1), no, raw)


def parse_nix(f: RepoFile, sink: FactSink) -> None:
    for no, raw in enumerate(f.text.splitlines(), 1):
        if _NIX_GPU.search(raw):
            sink.add("pkg.gpu_build", "nvidia", no, raw, confidence=0.75)
        elif _NIX_AMD.search(raw):
            sink.add("pkg.rocm_build", "amd", no, raw)
        elif m := re.search(r"python3\d*Packages\.(torch|tensorflow|jax)\b", raw):
            sink.add("pkg.framework", {"torch": "pytorch"}.get(m.group(1), m.group(1)), no, raw)


def parse_apt(f: RepoFile, sink: FactSink) -> None:
    for no, raw in enumerate(f.text.splitlines(), 1):
        name = raw.split("#")[0].strip()
        if _APT_GPU.match(name):
            sink.add("pkg.gpu_build", "nvidia", no, raw, confidence=0.8)
        elif _APT_AMD.match(name):
            sink.add("pkg.rocm_build", "amd", no, raw)
        elif _APT_MPI.match(name):
            sink.add("pkg.mpi", "MPI", no, raw)


def parse_package_json(f: RepoFile, sink: FactSink) -> None:
    try:
        data = json.loads(f.text)
    except json.JSONDecodeError:
        return
    if not isinstance(data, dict):
        return
    line = line_of(f.text, '"dependencies"')
    sink.add("pkg.language", "node.js", line, f.text.splitlines()[line - 1] if f.text else "package.json")
    for section in ("dependencies", "optionalDependencies"):
        for name in data.get(section) or {}:
            if name in _NODE_GPU:
                signal, value = _NODE_GPU[name]
                line = line_of(f.text, f'"{name}"')
                sink.add(signal, value, line, f.text.splitlines()[line - 1])
            elif name in ("@tensorflow/tfjs-node", "onnxruntime-node", "@xenova/transformers"):
                line = line_of(f.text, f'"{name}"')
                sink.add("pkg.dl_library", name, line, f.text.splitlines()[line - 1])
            elif name in WEB_FRAMEWORKS:
                line = line_of(f.text, f'"{name}"')
                sink.add("pkg.web", WEB_FRAMEWORKS[name], line, f.text.splitlines()[line - 1])


def buildpack(files: Sequence[RepoFile], binder_dir: str | None) -> tuple[str, str] | None:
    """(buildpack, file) in repo2docker's order: the first one that detects wins."""
    def at_top(rel: str) -> bool:
        parent = rel.rsplit("/", 1)[0] if "/" in rel else ""
        return parent == (binder_dir or "")

    top = {f.rel.rsplit("/", 1)[-1]: f.rel for f in files if at_top(f.rel)}
    runtime = next((f for f in files if at_top(f.rel) and f.kind == "runtime"), None)
    order = (("Dockerfile", "dockerfile"), ("Project.toml", "julia"), ("JuliaProject.toml", "julia"),
             ("default.nix", "nix"))
    for name, pack in order:
        if name in top:
            return pack, top[name]
    if (runtime and runtime.text.strip().startswith("r-")) or "DESCRIPTION" in top:
        return "r", runtime.rel if runtime and runtime.text.strip().startswith("r-") else top["DESCRIPTION"]
    for name, pack in (("environment.yml", "conda"), ("environment.yaml", "conda"), ("Pipfile.lock", "pipfile"),
                       ("Pipfile", "pipfile"), ("requirements.txt", "python"), ("setup.py", "python"),
                       ("pyproject.toml", "python"), ("runtime.txt", "python")):
        if name in top:
            return pack, top[name]
    return None
