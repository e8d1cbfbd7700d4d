"""Facts -> Requirements: the deterministic decision used when there is no AI answer (or a bad one).

Facts of one category are combined with a noisy-OR over their best occurrence per (signal, file),
so a README repeating "GPU" thirty times counts once, while independent files agreeing add up.
Scope weights: the main workload counts fully, the paper-scale recipe at 0.7, a reduced mode at
0.6, tests/CI at 0.5. docs/analysis.md walks through the thresholds with the corpus examples.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from chameleon_provision.models import Evidence, GpuNeed, GpuRequired, GpuVendor, Requirements
from chameleon_provision.repo_analyzer import hardware_needs
from chameleon_provision.repo_analyzer.explain import frameworks, reason
from chameleon_provision.repo_analyzer.facts import Fact
from chameleon_provision.repo_analyzer.signals import category_of

SCOPE_WEIGHT = {"main": 1.0, "full": 0.7, "reduced": 0.6, "aux": 0.5, "ignored": 0.0}
VENDORS = ("nvidia", "amd", "intel")
HARD_GPU = 0.6  # GPU-only evidence at or above this means the default build needs a GPU
SOFT_GPU = 0.5  # a GPU clearly helps the main workload
CPU_PATH = 0.5  # an explicit CPU recipe exists
LARGEST_GPU_GB = 80  # memory needs above this are totals to spread over several GPUs
# Files near the root describe the main workload; deep ones (recipes/<community>/README.md) a variant.
PROMINENCE = (1.0, 0.85, 0.7, 0.55)
MIN_WEIGHT = 0.4  # count/memory facts weighing less than this do not size the node
# Tests, CI, docs and side material (appendix, bonus, extras, examples) together weigh at most this much: many
# side files agreeing still do not describe the main workload.
AUX_CAP = 0.4
FRAMEWORK_MIN = 0.3  # pkg.framework (0.4) in a lock file (x0.3) or in one module of a monorepo (x0.5) is below


def noisy_or(values: Iterable[float]) -> float:
    return 1.0 - math.prod(1.0 - min(0.99, v) for v in values)


class _Facts:
    def __init__(self, facts: Sequence[Fact]) -> None:
        self.facts = [f for f in facts if f.scope != "ignored" and f.confidence > 0]

    def of(self, *categories: str, scopes: tuple[str, ...] = ("main", "full", "reduced", "aux")) -> list[Fact]:
        return [f for f in self.facts if category_of(f.signal) in categories and f.scope in scopes]

    def score(self, *categories: str, scopes: tuple[str, ...] | None = None,
              signals_excluded: tuple[str, ...] = (), flat: bool = False) -> float:
        """Noisy-OR of the best fact per (signal, file); flat: a CPU path counts whatever workload it is for."""
        best: dict[tuple[str, str], float] = {}
        aux: dict[tuple[str, str], float] = {}
        for f in self.of(*categories, scopes=scopes or tuple(SCOPE_WEIGHT)):
            if f.signal in signals_excluded:
                continue
            key = (f.signal, f.evidence.file)
            weight = (0.5 if f.scope == "aux" else 1.0) if flat else SCOPE_WEIGHT[f.scope]
            pool = aux if f.scope == "aux" and not flat else best
            pool[key] = max(pool.get(key, 0.0), f.confidence * weight)
        side = min(AUX_CAP, noisy_or(aux.values())) if aux else 0.0
        return noisy_or([*best.values(), side])

    def top(self, *categories: str, scopes: tuple[str, ...] = ("main",), n: int = 3) -> list[Fact]:
        return sorted(self.of(*categories, scopes=scopes), key=lambda f: -f.confidence)[:n]

    def weighted(self, *categories: str) -> list[tuple[float, Fact]]:
        """Main-workload facts with their weight: confidence times how prominent the file is."""
        out = []
        for f in self.of(*categories, scopes=("main",)):
            depth = min(f.evidence.file.count("/"), len(PROMINENCE) - 1)
            weight = f.confidence * PROMINENCE[depth]
            if weight >= MIN_WEIGHT:
                out.append((weight, f))
        return out

    def best_value(self, category: str, *, min_conf: float = 0.0) -> Fact | None:
        found = [f for f in self.of(category, scopes=("main", "full", "reduced")) if f.confidence >= min_conf]
        return max(found, key=lambda f: (SCOPE_WEIGHT[f.scope] * f.confidence, str(f.value)), default=None)


def _vendor(fs: _Facts) -> GpuVendor:
    """Evidence mass per vendor (best weight per file, summed): a ROCm project with one CUDA Dockerfile is AMD."""
    mass = dict.fromkeys(VENDORS, 0.0)
    best: dict[tuple[str, str], float] = {}
    for f in fs.of("gpu_hard", "gpu_soft", "gpu_optional"):
        if f.value in mass:
            key = (str(f.value), f.evidence.file)
            best[key] = max(best.get(key, 0.0), f.confidence * SCOPE_WEIGHT[f.scope])
    for (vendor, _file), weight in best.items():
        mass[vendor] += weight
    # default Linux wheels of torch/tensorflow/jax are CUDA builds; ROCm needs a special index
    if any(f.signal == "pkg.framework" for f in fs.facts):
        mass["nvidia"] += 0.3
    nvidia, amd, intel = mass["nvidia"], mass["amd"], mass["intel"]
    if intel > max(nvidia, amd):
        return "intel"
    if amd > 1.5 * nvidia:
        return "amd"
    if nvidia > 1.5 * amd:
        return "nvidia"
    return "any"


def _vote(fs: _Facts, category: str) -> tuple[int | None, list[Fact]]:
    """The value with the most weight behind it (ties: the smaller), one vote per file line."""
    votes: dict[int, float] = {}
    support: dict[int, list[Fact]] = {}
    seen: set[tuple[str, int]] = set()
    for weight, f in fs.weighted(category):
        if (f.evidence.file, f.evidence.line) in seen or int(f.value) <= 0:
            continue
        seen.add((f.evidence.file, f.evidence.line))
        votes[int(f.value)] = votes.get(int(f.value), 0.0) + weight
        support.setdefault(int(f.value), []).append(f)
    if not votes:
        return None, []
    value = max(votes, key=lambda c: (round(votes[c], 6), -c))
    return value, sorted(support[value], key=lambda f: -f.confidence)[:1]


def _count(fs: _Facts) -> tuple[int, list[Fact]]:
    """GPUs of one main run: the count with the most weight behind it (ties: the smaller count).

    The largest count anywhere is usually the paper-scale recipe; the best-supported one is what the
    README, configs and scripts mostly document.
    """
    count, used = _vote(fs, "gpu_count")
    return count or 1, used


def _total(memory: float | None, count: int) -> tuple[float | None, int, float | None]:
    """A need above any one GPU is a floor on the node's total GPU memory: (per GPU, count, total)."""
    if memory is None or memory <= LARGEST_GPU_GB:
        return memory, count, None
    return None, max(1, count), memory


def _memory(fs: _Facts, count: int) -> tuple[float | None, int, list[Fact]]:
    """GB per GPU for the main workload, and the GPU count after spreading a total over GPUs."""
    for category in ("gpu_memory", "gpu_memory_soft", "gpu_memory_table"):
        found = [f for _w, f in fs.weighted(category)]
        if found:
            best = max(found, key=lambda f: float(f.value))
            return float(best.value), count, [best]
    if count > 1:  # a multi-GPU main recipe: memory stated for the same GPU count elsewhere applies
        same = [f for f in fs.of("gpu_memory", "gpu_memory_soft", scopes=("full",))
                if any(c.value == count and (c.evidence.file, c.evidence.line) == (f.evidence.file, f.evidence.line)
                        for c in fs.of("gpu_count"))]
        if same:
            best = max(same, key=lambda f: float(f.value))
            return float(best.value), count, [best]
    estimates = [f for _w, f in fs.weighted("gpu_memory_model")]
    if estimates:
        best = max(estimates, key=lambda f: float(f.value))
        return float(best.value), count, [best]
    return None, count, []


def decide(facts: Sequence[Fact]) -> Requirements:
    fs = _Facts(facts)
    hard = fs.score("gpu_hard")
    soft = noisy_or([fs.score("gpu_soft", "gpu_memory_table", "gpu_memory_model"), 0.8 * fs.score("gpu_count")])
    optional = fs.score("gpu_optional")
    cpu_only = fs.score("cpu_only")
    main_gpu_statements = fs.weighted("gpu_count", "gpu_memory", "gpu_memory_soft", "gpu_memory_table")
    # a CPU recipe the docs or configs give; `cuda if available else cpu` in code is no such recipe
    cpu_recipe = fs.score("cpu_ok", "cpu_only", signals_excluded=("code.cpu_fallback",), flat=True)
    evidence: list[Fact] = []
    required: GpuRequired
    # A stated GPU need: the docs or configs size a main GPU run, or a README states a GPU requirement for the
    # main or the paper-scale workload ("you'll want at least an 8X A100 40GB node" keeps nanoGPT on a GPU).
    # Only the root and first-level files speak for the whole repository: a chapter's README deep in a book
    # (ch05/10_speed/README.md) or one module of a monorepo states what that part needs.
    stated = any(f.evidence.file.count("/") <= 1 for _w, f in main_gpu_statements) or any(
        f.signal in ("readme.gpu_required", "readme.gpu_memory") and f.scope in ("main", "full")
        and f.evidence.file.count("/") <= 1 for f in fs.facts)
    if hard >= HARD_GPU:
        # GPU optional: a documented CPU path and no stated GPU need plan a CPU node (cheaper, far more
        # available); --prefer-gpu asks for the GPU path instead
        required = "optional" if cpu_recipe >= CPU_PATH else "yes"
        gpu_main = required == "yes" or stated
        evidence += fs.top("gpu_hard", scopes=("main", "full", "reduced"), n=4)
    elif cpu_only >= 0.6 and hard < 0.5:
        required, gpu_main = "no", False
        evidence += fs.top("cpu_only", n=2)
    elif hard >= 0.45 or soft >= SOFT_GPU:
        required = "optional"
        # The GPU is the main path when the docs size a GPU run, or when a deep-learning framework is
        # used without a documented CPU recipe. A native build whose GPU port is one variant among
        # CPU ones (an HPC proxy app) stays on the CPU.
        # a framework the main manifests use; one in a lock file or in one module of many does not count
        framework = any(f.signal == "pkg.framework" and f.confidence >= FRAMEWORK_MIN for f in fs.facts)
        native_cpu = any(f.signal in ("build.mpi", "build.openmp", "pkg.mpi", "readme.mpi") for f in fs.facts)
        gpu_main = (framework and (cpu_recipe < CPU_PATH or stated)) or (
            not framework and not native_cpu and bool(main_gpu_statements))
        evidence += fs.top("gpu_hard", "gpu_soft", scopes=("main", "full"), n=4)
    elif optional >= 0.3 or soft >= 0.45:
        required, gpu_main = "optional", False
        evidence += fs.top("gpu_optional", "gpu_soft", scopes=("main", "full", "reduced"), n=3)
    else:
        required, gpu_main = "no", False
    if required == "optional":
        evidence += fs.top("cpu_ok", scopes=("main", "full", "reduced", "aux"), n=2)

    count, memory, cc, total = 0, None, None, None
    vendor: GpuVendor = "none"
    if required != "no":
        vendor = _vendor(fs)
    if gpu_main:
        count, used = _count(fs)
        evidence += used
        memory, count, used = _memory(fs, count)
        memory, count, total = _total(memory, count)
        evidence += used
        ccs = fs.of("compute_capability", scopes=("main", "full", "reduced"))
        if ccs and vendor in ("nvidia", "any"):
            cc = max(float(f.value) for f in ccs)
            evidence.append(max(ccs, key=lambda f: float(f.value)))
    cuda = fs.best_value("cuda") if vendor in ("nvidia", "any") and required != "no" else None
    rocm = fs.best_value("rocm") if vendor in ("amd", "any") and required != "no" else None
    os_fact = fs.best_value("os", min_conf=0.5)
    arch = fs.best_value("arch", min_conf=0.6)
    cores, _ = _vote(fs, "cores")
    ram, _ = _vote(fs, "ram")
    # A lease has to cover the run the user means; a stated full run counts when the main one is silent.
    hours = fs.of("runtime_hours", scopes=("main",)) or fs.of("runtime_hours", scopes=("full",))
    evidence += [f for f in (cuda, rocm, os_fact, arch) if f is not None]
    hardware, hardware_facts = hardware_needs.needs(fs.facts, category_of)
    evidence += hardware_facts
    special = hardware_needs.describe(hardware, hardware_facts)
    arch_value = hardware.pop("arch", None) or (str(arch.value) if arch else "x86_64")
    if required == "no":
        evidence += fs.top("framework", "runtime", "info", n=3)
    gpu = GpuNeed(required=required, count=count, min_memory_gb=memory, vendor=vendor, min_compute_capability=cc,
                  min_total_memory_gb=total)
    confidence = {"yes": hard, "optional": max(hard, soft, optional), "no": 1.0 - max(hard, soft) * 0.8}[required]
    unique = list({(f.evidence.file, f.evidence.line, f.signal): f for f in evidence}.values())
    unique.sort(key=lambda f: f.scope != "main")  # the main workload's evidence first, stable otherwise
    return Requirements(
        gpu=gpu,
        cpu_cores=min(256, cores) if cores else None,
        ram_gb=min(4096, ram) if ram else None,
        arch=arch_value,
        os=str(os_fact.value) if os_fact else None,
        cuda=str(cuda.value) if cuda else None,
        rocm=str(rocm.value) if rocm else None,
        frameworks=frameworks(fs.facts),
        estimated_runtime_hours=min(168.0, max(float(f.value) for f in hours)) if hours else None,
        **hardware,
        evidence=tuple(Evidence(f.evidence.file, f.evidence.line, f.evidence.text, f.signal, f.confidence)
                       for f in unique),
        confidence=round(max(0.3, min(0.95, confidence)), 2),
        decided_by="rules",
        reason=reason(gpu, unique, cuda, frameworks(fs.facts)) + special,
    )
