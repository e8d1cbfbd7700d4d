"""A light look at top-level Python code and notebooks: where work is put, and whether a CPU path exists.

Only a bounded number of shallow files is read (scanner budgets). The patterns are deliberately
few and literal; code is weaker evidence than the environment files because a `.cuda()` call
says a GPU is used when present, not that the workload cannot run without one.
"""

from __future__ import annotations

import re

from chameleon_provision.repo_analyzer.facts import FactSink
from chameleon_provision.repo_analyzer.packages import install_command
from chameleon_provision.repo_analyzer.parsers_launch import launch_line
from chameleon_provision.repo_analyzer.scanner import RepoFile

_CPU_FALLBACK = re.compile(r"cuda\.is_available\(\)\s*else\s*['\"]cpu|['\"]cuda['\"]\s+if\s+\w+(?:\.\w+)*"
                           r"\.cuda\.is_available\(\)|device\s*=\s*['\"]cpu['\"]|--device['\"].*default=['\"]cpu")
_CUDA_USE = re.compile(r"device\s*=\s*['\"]cuda|\.cuda\(\)|\.to\(\s*['\"]cuda|backend\s*=\s*['\"]nccl|"
                       r"torch\.cuda\.set_device|jax\.devices\(['\"]gpu")
_GPU_LIB = re.compile(r"^\s*(?:import\s+(cupy|pycuda)\b|from\s+(numba)\s+import\s+cuda\b|from\s+(pycuda)\b)")
_FRAMEWORK = re.compile(r"^\s*(?:import|from)\s+(torch|tensorflow|jax)\b")
_MAX_PER_FILE = 3  # the same pattern on many lines of one file is one piece of evidence


def parse_python(f: RepoFile, sink: FactSink) -> None:
    counts: dict[str, int] = {}

    def add(signal: str, value: object, no: int, raw: str) -> None:
        if counts.get(signal, 0) < _MAX_PER_FILE:
            counts[signal] = counts.get(signal, 0) + 1
            sink.add(signal, value, no, raw)

    for no, raw in enumerate(f.text.splitlines(), 1):
        if len(raw) > 400 or raw.lstrip().startswith("#"):
            continue
        if _CPU_FALLBACK.search(raw):
            add("code.cpu_fallback", "cpu", no, raw)
        elif _CUDA_USE.search(raw):
            add("code.cuda_device", "nvidia", no, raw)
        if _GPU_LIB.match(raw):
            add("code.gpu_library", "nvidia", no, raw)
        elif (m := _FRAMEWORK.match(raw)) and counts.get("framework") is None:
            counts["framework"] = 1
            sink.add("pkg.framework", {"torch": "pytorch"}.get(m.group(1), m.group(1)), no, raw, confidence=0.3)


def parse_notebook(f: RepoFile, sink: FactSink) -> None:
    """Notebook JSON read as text: source lines appear quoted, one per JSON line."""
    seen: set[str] = set()
    for no, raw in enumerate(f.text.splitlines(), 1):
        line = raw.strip().strip('",').replace('\\"', '"').replace("\\n", "")
        if len(line) > 400:
            continue
        if line.startswith(("!", "%")) and (install_command(sink, line, no) or launch_line(sink, line, no, line)):
            continue
        key = ""
        if _CPU_FALLBACK.search(line):
            key = "code.cpu_fallback"
        elif _CUDA_USE.search(line):
            key = "code.cuda_device"
        if key and key not in seen:
            seen.add(key)
            sink.add(key, "cpu" if key == "code.cpu_fallback" else "nvidia", no, line)
