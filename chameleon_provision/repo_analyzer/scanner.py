"""Find the files that describe an environment, and read them within fixed budgets.

The walk never follows symlinks (a link could point outside the checkout), skips vendored and
generated trees, and only *reads* files whose names say they describe the environment; everything
else is counted by extension. Budgets bound the work on huge repositories: directory entries
visited, files read (overall and per kind), bytes per file and bytes in total.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 256 * 1024
MAX_TOTAL_BYTES = 8 * 1024 * 1024
MAX_ENTRIES = 60_000
MAX_DEPTH = 8
MAX_FILES_READ = 400

# Vendored, generated or data trees: their build files describe someone else's project.
VENDORED = frozenset({"third_party", "third-party", "thirdparty", "3rdparty", "3rd_party", "vendor", "vendored",
                      "external", "externals", "extern", "deps", "submodules", "node_modules", "bower_components",
                      "site-packages"})
GENERATED = frozenset({".git", ".hg", ".svn", "build", "_build", "dist", ".venv", "venv", "__pycache__", ".tox",
                       ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints", ".eggs",
                       "target", ".gradle", "htmlcov", "data", "datasets", "dataset", "checkpoints", "ckpt",
                       "weights", "logs", "wandb", "mlruns", "outputs", "output", "results", "runs", ".cache",
                       "assets", "static", "images", "img", "figures", "media"})
KEEP_HIDDEN = frozenset({".binder", ".devcontainer", ".github"})
R2D_KINDS = frozenset({"requirements", "conda", "pyproject", "setup_py", "setup_cfg", "pipfile", "conda_lock",
                       "runtime", "apt", "install_r", "description", "renv", "julia", "nix", "postbuild",
                       "dockerfile"})
PRIORITY = {kind: rank for rank, kinds in enumerate((
    R2D_KINDS, {"compose", "devcontainer"}, {"launch_config", "slurm"}, {"readme"}, {"make", "cmake"},
    {"package_json"}, {"shell"}, {"config_yaml"}, {"python", "notebook"}, {"ci", "fio"}, {"native_source"}))
    for kind in kinds}
PER_KIND = {"readme": 30, "requirements": 30, "conda": 10, "dockerfile": 12, "compose": 6, "launch_config": 40,
            "config_yaml": 40, "slurm": 20, "make": 40, "cmake": 40, "shell": 40, "python": 40, "notebook": 8,
            "package_json": 4, "native_source": 40, "fio": 10, "ci": 10}
# C sources are read for special-hardware signals only, which sit near the top: a shorter read each
KIND_BYTES = {"native_source": 64 * 1024}

# (kind, pattern on the file name, deepest folder level it is read from; 0 = the root)
_RULES: tuple[tuple[str, re.Pattern[str], int], ...] = tuple((k, re.compile(p, re.I), d) for k, p, d in (
    ("changelog", r"^(changelog|changes|history|news|release[-_]?notes)(\.\w+)?$", 9),
    ("requirements", r"^(.*requirements.*|constraints.*)\.(txt|in)$", 3),
    ("conda_lock", r"^(.*\.)?conda-lock\.ya?ml$", 2),
    ("conda", r"^(.*environment.*|conda[\w.-]*)\.ya?ml$", 3),
    ("setup_py", r"^setup\.py$", 2), ("setup_cfg", r"^setup\.cfg$", 2), ("pyproject", r"^pyproject\.toml$", 2),
    # repo2docker reads these at the root (or in binder/) only; deeper copies belong to one port of many
    ("pipfile", r"^Pipfile(\.lock)?$", 0), ("runtime", r"^runtime\.txt$", 0), ("apt", r"^apt\.txt$", 0),
    ("install_r", r"^install\.R$", 0), ("description", r"^DESCRIPTION$", 0), ("renv", r"^renv\.lock$", 0),
    ("julia", r"^(Julia)?(Project|Manifest)\.toml$", 0), ("nix", r"^(default|shell|flake)\.nix$", 0),
    ("postbuild", r"^(postBuild|start)$", 0),
    ("dockerfile", r"^(Dockerfile([.-][\w.-]+)?|[\w.-]+\.dockerfile|Containerfile)$", 4),
    ("compose", r"^(docker-)?compose[\w.-]*\.ya?ml$", 3),
    ("devcontainer", r"^\.?devcontainer\.json$", 3),
    ("make", r"^(GNUmakefile|makefile|Makefile([.-]\w+)?|[\w.-]+\.mk)$", 4),
    ("cmake", r"^(CMakeLists\.txt|[\w.-]+\.cmake)$", 4),
    ("launch_config", r"^.*(accelerate|deepspeed|ds_?config|zero[_-]?\d|fsdp|ddp|multi[_-]?gpu|default_config)"
                      r".*\.(ya?ml|json)$", 5),
    ("slurm", r"^.*\.(slurm|sbatch|pbs|qsub|lsf)$", 5),
    ("readme", r"^(readme|install(ation)?|getting[-_]started|quick[-_]?start|hardware|usage|setup|training)"
               r"(\.(md|markdown|rst|txt))?$", 4),
    ("package_json", r"^package\.json$", 2),
    ("shell", r"^.*\.(sh|bash)$", 4),
    ("notebook", r"^.*\.ipynb$", 3),
    ("python", r"^.*\.py$", 2),
    ("fio", r"^.*\.fio$", 4),
    ("native_source", r"^.*\.(c|cc|cpp|cxx|h|hh|hpp|hxx|cl)$", 4),
))
_CONFIG_DIR = re.compile(r"(^|/)(configs?|conf|recipes|experiments|accelerate_configs|deepspeed_configs?)(/|$)", re.I)
_SOURCE_EXT = {".cu", ".cuh", ".hip", ".cl", ".f90", ".c", ".cc", ".cpp", ".py", ".r", ".jl", ".js", ".ts", ".ipynb"}


@dataclass(frozen=True)
class RepoFile:
    rel: str  # POSIX path relative to the repository root
    kind: str
    text: str
    truncated: bool = False
    shadowed: bool = False  # repo2docker ignores it because binder/ or .binder/ exists


@dataclass
class Scan:
    files: list[RepoFile] = field(default_factory=list)
    entries_visited: int = 0
    bytes_read: int = 0
    extensions: Counter[str] = field(default_factory=Counter)
    kernel_sources: dict[str, list[str]] = field(default_factory=lambda: {".cu": [], ".hip": []})
    skipped_trees: list[str] = field(default_factory=list)
    limits_hit: list[str] = field(default_factory=list)
    binder_dir: str | None = None


def classify(rel: str, name: str, depth: int, binder: str | None) -> str | None:
    parent = rel.rsplit("/", 1)[0] if "/" in rel else ""
    if binder and parent == binder:
        depth = 0  # repo2docker reads binder/ as if it were the root
    for kind, pattern, max_depth in _RULES:
        if pattern.match(name) and depth <= max_depth:
            return None if kind == "changelog" else kind
    if name.lower().endswith((".yaml", ".yml")) and _CONFIG_DIR.search(parent) and depth <= 5:
        return "config_yaml"
    if parent.endswith(".devcontainer") and name.endswith(".json") and depth <= 3:
        return "devcontainer"
    if (parent in (".github/workflows", ".gitlab") and name.endswith((".yml", ".yaml"))) or name in (
            ".gitlab-ci.yml", ".travis.yml", ".cirrus.yml"):
        return "ci"
    if parent.rsplit("/", 1)[-1].lower() == "requirements" and name.endswith((".txt", ".in")) and depth <= 3:
        return "requirements"
    return None


def scan(root: Path) -> Scan:
    result = Scan()
    for candidate in (".binder", "binder"):
        if (root / candidate).is_dir() and not (root / candidate).is_symlink():
            result.binder_dir = candidate
    found = _walk(root, result)
    found.sort(key=lambda f: (PRIORITY.get(f[3], 99), f[0], f[1]))
    per_kind: Counter[str] = Counter()
    for _depth, rel, path, kind in found:
        if len(result.files) >= MAX_FILES_READ:
            result.limits_hit.append(f"files read ({MAX_FILES_READ})")
            break
        if per_kind[kind] >= PER_KIND.get(kind, 20):
            continue
        if result.bytes_read >= MAX_TOTAL_BYTES:
            result.limits_hit.append(f"total bytes ({MAX_TOTAL_BYTES})")
            break
        budget = min(KIND_BYTES.get(kind, MAX_FILE_BYTES), MAX_TOTAL_BYTES - result.bytes_read)
        try:
            data = _read_regular(path, budget + 1)
        except OSError as exc:
            log.debug("cannot read %s: %s", rel, exc)
            continue
        truncated = len(data) > budget
        data = data[:budget]
        result.bytes_read += len(data)
        if b"\0" in data[:8192]:
            continue
        per_kind[kind] += 1
        top = rel.split("/", 1)[0]
        shadowed = bool(result.binder_dir) and kind in R2D_KINDS and top != result.binder_dir and "/" not in rel
        result.files.append(RepoFile(rel, kind, data.decode("utf-8", errors="replace"), truncated, shadowed))
    return result


def _read_regular(path: str, limit: int) -> bytes:
    """At most `limit` bytes of a regular file; anything else (swapped in since the walk) is refused unread."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        return handle.read(limit)


def _walk(root: Path, result: Scan) -> list[tuple[int, str, str, str]]:
    found: list[tuple[int, str, str, str]] = []
    queue: deque[tuple[str, str, int]] = deque([(str(root), "", 0)])
    binder_prefix = f"{result.binder_dir}/" if result.binder_dir else None
    while queue:
        directory, prefix, depth = queue.popleft()
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            result.entries_visited += 1
            if result.entries_visited > MAX_ENTRIES:
                result.limits_hit.append(f"directory entries ({MAX_ENTRIES})")
                return found
            rel = prefix + entry.name
            if entry.is_symlink():
                continue
            if entry.is_dir(follow_symlinks=False):
                name = entry.name.lower()
                if name in VENDORED:
                    if len(result.skipped_trees) < 20:
                        result.skipped_trees.append(rel)
                elif not (name in GENERATED or name.endswith(".egg-info") or depth + 1 > MAX_DEPTH
                          or (name.startswith(".") and name not in KEEP_HIDDEN)):
                    queue.append((entry.path, rel + "/", depth + 1))
                continue
            if not entry.is_file(follow_symlinks=False):
                continue  # FIFOs, sockets and devices: opening one can block forever or read without end
            ext = os.path.splitext(entry.name)[1].lower()
            if ext == ".hip" and entry.name.lower().startswith("make"):
                ext = ".mk"  # make.defs.hip is a build configuration, not a kernel
            if ext in _SOURCE_EXT:
                result.extensions[ext] += 1
                kernels = result.kernel_sources.get(".cu" if ext == ".cuh" else ext)
                if kernels is not None and len(kernels) < 5:
                    kernels.append(rel)
            kind = classify(rel, entry.name, depth, result.binder_dir)
            if kind:  # binder/ files sort first: repo2docker reads them instead of the root's
                found.append((-1 if prefix == binder_prefix else depth, rel, entry.path, kind))
    return found
