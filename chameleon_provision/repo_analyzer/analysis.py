"""analyze(): scan a checkout, run the parser for each file kind, and decide with the rules."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from chameleon_provision.errors import InputError
from chameleon_provision.models import Requirements
from chameleon_provision.repo_analyzer import (
    code,
    hardware_signals,
    parsers_build,
    parsers_launch,
    parsers_native,
    parsers_other,
    parsers_python,
    readme,
)
from chameleon_provision.repo_analyzer.comments import strip_comments
from chameleon_provision.repo_analyzer.facts import Fact, FactSink, path_scope
from chameleon_provision.repo_analyzer.rules import decide
from chameleon_provision.repo_analyzer.scanner import RepoFile, Scan, scan
from chameleon_provision.repo_analyzer.signals import category_of, confidence_of

log = logging.getLogger(__name__)

PARSERS: dict[str, Callable[[RepoFile, FactSink], None]] = {
    "requirements": parsers_python.parse_requirements, "conda": parsers_python.parse_conda,
    "setup_py": parsers_python.parse_setup_py, "setup_cfg": parsers_python.parse_setup_cfg,
    "pyproject": parsers_python.parse_pyproject, "pipfile": parsers_python.parse_pipfile,
    "conda_lock": parsers_python.parse_conda_lock, "runtime": parsers_python.parse_runtime,
    "apt": parsers_other.parse_apt, "install_r": parsers_other.parse_install_r,
    "description": parsers_other.parse_description, "renv": parsers_other.parse_renv,
    "julia": parsers_other.parse_julia, "nix": parsers_other.parse_nix,
    "package_json": parsers_other.parse_package_json, "postbuild": parsers_launch.parse_script,
    "shell": parsers_launch.parse_script, "slurm": parsers_launch.parse_script,
    "launch_config": parsers_launch.parse_launch_config, "config_yaml": parsers_launch.parse_launch_config,
    "dockerfile": parsers_build.parse_dockerfile, "compose": parsers_build.parse_compose,
    "devcontainer": parsers_build.parse_devcontainer, "make": parsers_native.parse_make,
    "cmake": parsers_native.parse_cmake, "readme": readme.parse_readme, "python": code.parse_python,
    "notebook": code.parse_notebook, "native_source": hardware_signals.parse, "fio": hardware_signals.parse,
    "ci": hardware_signals.parse,
}
EXCERPT_CONTEXT = 3  # lines quoted before and after each fact
INTRO_LINES, INTRO_BYTES = 25, 1500  # the root README's opening, quoted first
# A folder named for a GPU backend among more CPU ports (miniFE's cuda/ beside ref/, openmp/, mkl/, tbb/)
# holds one port of several: its GPU build is possible, not required, so its GPU facts become optional.
# Where GPU ports are the majority (mixbench-cuda, -hip, -opencl, -sycl beside -cpu) they stay as read.
# Lock files list every transitive package (nvidia-cublas-cu12 under torch): they pin what a manifest chose.
_LOCK_FILE = re.compile(r"(^|/)((.*\.)?conda-lock\.ya?ml|poetry\.lock|uv\.lock|Pipfile\.lock|package-lock\.json)$",
                        re.I)
LOCK_FACTOR = 0.3
# Sibling folders that each carry their own manifest are independent sub-projects (a monorepo of modules):
# one module's pins describe that module, not the repository's main workload.
_MANIFEST_KINDS = frozenset({"requirements", "conda", "conda_lock", "pyproject", "setup_py", "setup_cfg", "pipfile",
                             "package_json"})
MIN_MODULES, MODULE_FACTOR = 3, 0.5
_OPTIONAL_WORD = re.compile(r"(?i)\boptional(?:ly)?\b|\bnot\s+(?:required|needed|necessary)\b")
_FOLDER_REF = re.compile(r"(?<![\w/.-])(?:\./)?([\w.-]+)/")
_GPU_DIR = re.compile(r"^(cuda\d*|gpus?|hip|rocm|opencl|ocl|sycl|openacc|.+[-_](cuda|gpu|hip|rocm|opencl|sycl))$", re.I)


@dataclass(frozen=True)
class Analysis:
    requirements: Requirements
    facts: tuple[Fact, ...]
    files_scanned: int
    bytes_read: int
    entries_visited: int = 0
    files: tuple[str, ...] = ()  # every file read, plus files named by facts (kernel sources)
    notes: tuple[str, ...] = ()  # budgets hit, vendored trees skipped
    texts: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def excerpts(self, max_bytes: int = 12000) -> list[dict[str, Any]]:
        """Quoted windows around the facts, most telling files first, within max_bytes of text."""
        weight: dict[str, float] = {}
        lines_of: dict[str, set[int]] = {}
        for f in self.facts:
            if f.scope == "ignored" or f.evidence.file not in self.texts:
                continue
            weight[f.evidence.file] = weight.get(f.evidence.file, 0.0) + f.confidence
            lines_of.setdefault(f.evidence.file, set()).add(f.evidence.line)
        out: list[dict[str, Any]] = []
        used = 0
        # the root README's opening says what the project is, even when it states no hardware
        intro = next((r for r in sorted(self.texts) if "/" not in r and r.lower().startswith("readme")), None)
        if intro is not None:
            head = "\n".join(self.texts[intro].splitlines()[:INTRO_LINES])[: min(INTRO_BYTES, max_bytes)]
            if head.strip():
                out.append({"file": intro, "start_line": 1, "text": head})
                used += len(head)
                lines_of.setdefault(intro, set())
                lines_of[intro] = {n for n in lines_of[intro] if n > INTRO_LINES + EXCERPT_CONTEXT}
        for rel in sorted(weight, key=lambda r: (-weight[r], r)):
            lines = self.texts[rel].splitlines()
            for start, end in _windows(sorted(lines_of[rel]), len(lines)):
                text = "\n".join(lines[start - 1:end])
                if used + len(text) > max_bytes:
                    text = text[: max(0, max_bytes - used)]
                if not text:
                    return out
                out.append({"file": rel, "start_line": start, "text": text})
                used += len(text)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"requirements": self.requirements.to_dict(), "facts": [f.as_dict() for f in self.facts],
                "files_scanned": self.files_scanned, "bytes_read": self.bytes_read,
                "entries_visited": self.entries_visited, "notes": list(self.notes)}


def _windows(lines: list[int], total: int) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for line in lines:
        start, end = max(1, line - EXCERPT_CONTEXT), min(total, line + EXCERPT_CONTEXT)
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged[:8]


def _modules(files: list[RepoFile]) -> set[str]:
    """Folders (as 'parent/name/') that are one of at least MIN_MODULES sibling sub-projects with manifests."""
    by_parent: dict[str, set[str]] = {}
    for f in files:
        if f.kind in _MANIFEST_KINDS and "/" in f.rel:
            folder = f.rel.rsplit("/", 1)[0]
            parent = folder.rsplit("/", 1)[0] if "/" in folder else ""
            by_parent.setdefault(parent, set()).add(folder)
    return {folder + "/" for folders in by_parent.values() if len(folders) >= MIN_MODULES for folder in folders}


def _side_folders(files: list[RepoFile]) -> tuple[str, ...]:
    """Top-level folders the root README calls optional ("an optional Docker setup is in setup/")."""
    readme = next((f for f in files if f.kind == "readme" and "/" not in f.rel), None)
    if readme is None:
        return ()
    folders = {f.rel.split("/", 1)[0] for f in files if "/" in f.rel}
    found: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+|\n\s*\n", readme.text):
        if _OPTIONAL_WORD.search(sentence):
            # "optional extras in requirements/" makes a file optional, not the folder of dependency lists
            found += [m.group(1) + "/" for m in _FOLDER_REF.finditer(sentence)
                      if m.group(1) in folders and m.group(1).lower() not in ("requirements", "src", "lib")]
    return tuple(dict.fromkeys(found))


def _factor(f: RepoFile, dockerfiles: int, modules: Collection[str] = ()) -> float:
    """Confidence multiplier for where a file sits: nested READMEs and docs say less than the root one."""
    factor = 0.7 if f.shadowed else 1.0
    if _LOCK_FILE.search(f.rel):
        factor *= LOCK_FACTOR
    if any(f.rel.startswith(m) for m in modules):
        factor *= MODULE_FACTOR
    name = f.rel.rsplit("/", 1)[-1].lower()
    if f.kind == "dockerfile" and dockerfiles > 1 and re.search(r"gpu|cuda|rocm", name):
        factor *= 0.6  # Dockerfile.gpu next to a plain Dockerfile: a GPU variant, not the default build
    if f.kind == "readme" and "/" in f.rel:
        factor *= 0.8 if f.rel.lower().startswith(("doc/", "docs/")) else 0.9
    if f.rel.lower().startswith(("examples/", "example/")):
        factor *= 0.8
    return factor


def _notes(result: Scan) -> tuple[str, ...]:
    notes = [f"limit reached: {limit}" for limit in dict.fromkeys(result.limits_hit)]
    notes += [f"skipped vendored tree {tree}/" for tree in result.skipped_trees]
    if result.binder_dir:
        notes.append(f"{result.binder_dir}/ present: repo2docker reads it instead of the root's environment files")
    return tuple(notes)


def analyze(path: Path) -> Analysis:
    root = Path(path)
    if not root.is_dir():
        raise InputError(f"{root} is not a folder")
    result = scan(root)
    facts: list[Fact] = []
    extra: dict[str, FactSink] = {}
    dockerfiles = sum(1 for f in result.files if f.kind == "dockerfile")
    modules, side = _modules(result.files), _side_folders(result.files)
    for f in result.files:
        sink = FactSink(f.rel, factor=_factor(f, dockerfiles, modules), scope=path_scope(f.rel, side))
        live = replace(f, text=strip_comments(f.text, f.kind, f.rel.rsplit("/", 1)[-1]))
        try:
            PARSERS[f.kind](live, sink)
            if f.kind not in hardware_signals.OWN_KINDS:
                hardware_signals.parse(live, sink)
        except (ValueError, KeyError, IndexError, TypeError, AttributeError, RecursionError) as exc:
            # one malformed file must not stop the analysis; what it yielded so far is kept
            log.warning("could not fully parse %s (%s): %s", f.rel, f.kind, exc)
        facts += sink.facts
    parsers_native.kernel_sources(result, extra)
    if pack := parsers_other.buildpack(result.files, result.binder_dir):
        text = next((f.text for f in result.files if f.rel == pack[1]), "")
        first = next((ln for ln in text.splitlines() if ln.strip()), pack[1])
        line = text.splitlines().index(first) + 1 if first in text.splitlines() else 1
        extra.setdefault(pack[1], FactSink(pack[1])).add("r2d.buildpack", pack[0], line, first)
    for sink in extra.values():
        facts += sink.facts
    facts = _dedupe(_variants(result.files, facts))
    files = tuple(dict.fromkeys([f.rel for f in result.files] + [f.evidence.file for f in facts]))
    return Analysis(requirements=decide(facts), facts=tuple(facts), files_scanned=len(result.files),
                    bytes_read=result.bytes_read, entries_visited=result.entries_visited, files=files,
                    notes=_notes(result), texts={f.rel: f.text for f in result.files})


def _gpu_unit(rel: str) -> str | None:
    parts = rel.split("/")[:-1]
    hit = next((i for i, part in enumerate(parts) if _GPU_DIR.match(part)), None)
    return None if hit is None else "/".join(parts[: hit + 1])


def _variants(files: list[RepoFile], facts: list[Fact]) -> list[Fact]:
    builds = [f.rel for f in files if f.kind in ("make", "cmake")]
    gpu_units = {u for b in builds if (u := _gpu_unit(b))}
    cpu_units = {b.rsplit("/", 1)[0] if "/" in b else "" for b in builds if _gpu_unit(b) is None}
    ports = bool(gpu_units) and len(gpu_units) < len(cpu_units)
    # kernel sources follow their builds: if every CUDA/HIP build step is optional, so are the kernels
    build_signals = {f.signal for f in facts}
    optional_builds = "build.cuda_optional" in build_signals and not {"build.cuda", "build.hip"} & build_signals
    if not ports and not optional_builds:
        return facts
    out = []
    for f in facts:
        kernels = f.signal in ("source.cuda_kernels", "source.hip_kernels")
        in_port = (ports and (_gpu_unit(f.evidence.file) is not None or kernels)) or (optional_builds and kernels)
        if in_port and category_of(f.signal) == "gpu_hard":
            ev = f.evidence
            optional = "build.cuda_optional"
            f = replace(f, signal=optional,
                        evidence=replace(ev, signal=optional, confidence=confidence_of(optional)))
        out.append(f)
    return out


def _dedupe(facts: list[Fact]) -> list[Fact]:
    seen: dict[tuple[str, str, int, str], Fact] = {}
    for f in facts:
        key = (f.signal, f.evidence.file, f.evidence.line, repr(f.value))
        if key not in seen or seen[key].confidence < f.confidence:
            seen[key] = f
    ordered = sorted(seen.values(), key=lambda f: (f.scope == "ignored", -f.confidence, f.evidence.file,
                                                   f.evidence.line))
    return ordered
