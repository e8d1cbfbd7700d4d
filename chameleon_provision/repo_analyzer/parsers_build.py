"""Containers: Dockerfile base images and RUN lines, docker-compose GPU requests, devcontainers."""

from __future__ import annotations

import re

from chameleon_provision.repo_analyzer.facts import FactSink
from chameleon_provision.repo_analyzer.packages import install_command, rocm_from_tag
from chameleon_provision.repo_analyzer.parsers_launch import launch_line
from chameleon_provision.repo_analyzer.scanner import RepoFile

_UBUNTU = re.compile(r"ubuntu[-_:]?(\d{2})\.?(04|10)(?!\d)", re.I)
_CODENAMES = {"bionic": "18.04", "focal": "20.04", "jammy": "22.04", "noble": "24.04"}
_CUDA_TAG = re.compile(r"(?:^|[:_-])(?:cuda)?(\d{1,2})\.(\d)(?:\.\d+)?(?=[-_]|$)")
_CUDA_WORD = re.compile(r"cuda[-_]?(\d{1,2})\.(\d)", re.I)
_GPU_ENV = re.compile(r"\b(NVIDIA_VISIBLE_DEVICES|NVIDIA_DRIVER_CAPABILITIES|CUDA_HOME|TORCH_CUDA_ARCH_LIST|"
                      r"CUDA_VERSION|NVIDIA_REQUIRE_CUDA)\b")
_AMD_ENV = re.compile(r"\b(HIP_PLATFORM|ROCM_PATH|ROCM_HOME|HSA_OVERRIDE_GFX_VERSION|PYTORCH_ROCM_ARCH)\b")
_APT_INSTALL = re.compile(r"\bapt(?:-get)?\s+(?:-\S+\s+)*install\b(.*)")


def _os(sink: FactSink, image: str, line: int, text: str) -> None:
    if m := _UBUNTU.search(image):
        sink.add("docker.os", f"ubuntu{m.group(1)}.{m.group(2)}", line, text)
    elif m := re.search(r"\b(?:ubuntu[:-])?(bionic|focal|jammy|noble)\b", image):
        sink.add("docker.os", "ubuntu" + _CODENAMES[m.group(1)], line, text)


def base_image(sink: FactSink, image: str, line: int, text: str) -> None:
    """What a base image (FROM, compose image:, devcontainer image) implies."""
    low = image.lower()
    repo, _, tag = low.partition(":")
    name = repo.rsplit("/", 1)[-1]
    if repo.startswith(("rocm/", "rocm.docker")) or "rocm" in tag:
        sink.add("docker.gpu_base", "amd", line, text, confidence=0.9)
        if version := rocm_from_tag(tag or repo):
            sink.add("docker.rocm", version, line, text)
    elif (repo.endswith("nvidia/cuda") or repo.startswith("nvcr.io/nvidia") or "cuda" in tag or "cuda" in name
          or (name in ("pytorch", "tensorflow") and "gpu" in tag) or name.endswith("-gpu") or "-gpu-" in name):
        sink.add("docker.gpu_base", "nvidia", line, text,
                 confidence=0.85 if ("cuda" in repo or "cuda" in tag or "nvcr.io" in repo) else 0.75)
        m = _CUDA_TAG.search(tag) if repo.endswith("nvidia/cuda") else _CUDA_WORD.search(low)
        if m:
            sink.add("docker.cuda", f"{int(m.group(1))}.{m.group(2)}", line, text)
    elif repo == "pytorch/pytorch":  # every pytorch/pytorch tag ships CUDA
        sink.add("docker.gpu_base", "nvidia", line, text, confidence=0.7)
    else:
        sink.add("docker.base", image, line, text)
        if name == "python" and (m := re.match(r"(\d+\.\d+)", tag)):
            sink.add("runtime.python", m.group(1), line, text)
        elif name in ("node", "r-base", "r-ver", "julia", "tensorflow"):
            sink.add("pkg.language", {"node": "node.js", "julia": "Julia", "tensorflow": "tensorflow"}.get(name, "R"),
                     line, text)
    _os(sink, low, line, text)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Dockerfile instructions with backslash continuations joined, each with its first line number."""
    out: list[tuple[int, str]] = []
    buf, start = "", 0
    for no, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if not buf:
            start = no
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        out.append((start, buf + stripped))
        buf = ""
    if buf:
        out.append((start, buf))
    return out


def _physical_line(lines: list[str], start: int, part: str) -> int:
    probe = " ".join(part.split())[:24]
    for no in range(start, min(len(lines), start + 200) + 1):
        if probe and probe in " ".join(lines[no - 1].split()):
            return no
    return start


def parse_dockerfile(f: RepoFile, sink: FactSink) -> None:
    physical = f.text.splitlines()
    args: dict[str, str] = {}
    stages: set[str] = set()
    for no, instr in _logical_lines(f.text):
        op, _, rest = instr.partition(" ")
        op = op.upper()
        if op == "ARG" and (m := re.match(r"(\w+)=(\S+)", rest.strip())):
            args[m.group(1)] = m.group(2).strip("'\"")
        elif op == "FROM":
            rest = re.sub(r"\$\{?(\w+)(?::-[^}]*)?\}?", lambda m: args.get(m.group(1), m.group(0)), rest)
            if "--platform" in rest and re.search(r"--platform=\S*(arm64|aarch64)", rest):
                sink.add("docker.arch", "aarch64", no, instr)
            parts = [p for p in rest.split() if not p.startswith("--")]
            if parts and parts[0].lower() not in stages:
                base_image(sink, parts[0], no, instr)
            if len(parts) >= 3 and parts[1].lower() == "as":
                stages.add(parts[2].lower())
        elif op == "ENV":
            if _GPU_ENV.search(rest):
                sink.add("docker.gpu_env", "nvidia", no, instr)
            elif _AMD_ENV.search(rest):
                sink.add("docker.gpu_env", "amd", no, instr)
        elif op in ("RUN", "CMD", "ENTRYPOINT"):
            for part in re.split(r"&&|;|\|\|", rest):
                no = _physical_line(physical, no, part)  # evidence points at the continuation line itself
                install_command(sink, part, no)
                launch_line(sink, part, no, part)
                if apt := _APT_INSTALL.search(part):
                    for pkg in apt.group(1).split():
                        if re.match(r"^(cuda-[\w.-]+|nvidia-[\w.-]+|libcudnn\w*)", pkg):
                            sink.add("pkg.gpu_build", "nvidia", no, part, confidence=0.8)
                        elif re.match(r"^(rocm[\w.-]*|hip[\w-]+|miopen[\w.-]*)", pkg):
                            sink.add("pkg.rocm_build", "amd", no, part)
                if re.search(r"\bnvcc\b", part):
                    sink.add("build.cuda", "nvidia", no, part)
                elif re.search(r"\bhipcc\b", part):
                    sink.add("build.hip", "amd", no, part)


def parse_compose(f: RepoFile, sink: FactSink) -> None:
    devices_at = -100
    for no, raw in enumerate(f.text.splitlines(), 1):
        line = raw.split("#", 1)[0]
        if re.search(r"^\s*devices\s*:", line):
            devices_at = no
        if m := re.search(r"^\s*image\s*:\s*['\"]?([\w./:${}-]+)", line):
            base_image(sink, m.group(1), no, raw)
        if re.search(r"driver\s*:\s*['\"]?nvidia|runtime\s*:\s*['\"]?nvidia|^\s*gpus\s*:", line):
            sink.add("compose.gpu_device", "nvidia", no, raw)
        elif re.search(r"capabilities\s*:.*\bgpu\b", line):
            sink.add("compose.gpu_device", "nvidia", no, raw, confidence=0.85)
        elif "/dev/kfd" in line:
            sink.add("compose.amd_device", "amd", no, raw)
        elif _GPU_ENV.search(line):
            sink.add("docker.gpu_env", "nvidia", no, raw)
        if no - devices_at <= 8:
            if m := re.search(r"^\s*count\s*:\s*(\d+)", line):
                sink.add("compose.gpu_count", int(m.group(1)), no, raw)
            elif m := re.search(r"device_ids\s*:\s*\[([^\]]*)\]", line):
                sink.add("compose.gpu_count", len([d for d in m.group(1).split(",") if d.strip()]), no, raw)
        if m := re.search(r"^\s*(?:command|entrypoint)\s*:\s*(.+)$", line):
            launch_line(sink, m.group(1), no, raw)


def parse_devcontainer(f: RepoFile, sink: FactSink) -> None:
    for no, raw in enumerate(f.text.splitlines(), 1):
        if re.search(r"['\"]--gpus(?:[= ]\w+)?['\"]|--runtime=nvidia|features/nvidia-cuda", raw):
            sink.add("devcontainer.gpu", "nvidia", no, raw)
        elif re.search(r"['\"]gpu['\"]\s*:\s*(true|\{)", raw):
            sink.add("devcontainer.gpu", "any", no, raw, confidence=0.85)
        elif re.search(r"['\"]gpu['\"]\s*:\s*['\"]optional['\"]", raw):
            sink.add("devcontainer.gpu_optional", "any", no, raw)
        elif "/dev/kfd" in raw:
            sink.add("devcontainer.gpu", "amd", no, raw)
        if m := re.search(r"['\"]image['\"]\s*:\s*['\"]([^'\"]+)['\"]", raw):
            base_image(sink, m.group(1), no, raw)
