"""Rules only, on the real-repository development corpus: every plan must land in the labelled range.

For each repository in ../shared/corpus/dev the files/ folder is analysed without AI, the rules rank
the UC + TACC catalog, and the chosen node must lie within [node_class, full_scale_node_class] with
the right GPU vendor, booting an image that fits its architecture and GPU.
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import pytest
from catalog import CLASS_ORDER, image_problem, images, judge, memory_verdict, nodes, special_misses

from chameleon_provision.decisions.hardware_rules import rules_choice
from chameleon_provision.decisions.image_rules import image_fits, info, rules_image
from chameleon_provision.models import NodeRecord
from chameleon_provision.repo_analyzer import analyze

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CORPUS = SHARED / "corpus" / "dev"
REPOS = sorted(p.name for p in CORPUS.iterdir() if (p / "labels.json").is_file()) if CORPUS.is_dir() else []
CATALOG = nodes()


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus/dev is not present")
@pytest.mark.parametrize("name", REPOS or ["(none)"])
def test_plan_within_labelled_range(name: str) -> None:
    if not REPOS:
        pytest.skip("no labelled repositories in the corpus")
    repo = CORPUS / name
    labels = json.loads((repo / "labels.json").read_text())["labels"]
    analysis = analyze(repo / "files")
    req = analysis.requirements
    assert req.decided_by == "rules" and req.reason
    assert req.evidence, "a decision must carry its evidence"
    node = rules_choice(req, CATALOG, preferred_site="CHI@UC").hardware
    in_range, vendor_ok, cls = judge(labels, node, CATALOG)
    where = f"{node.node_type}@{node.site} ({cls}) for {labels['node_class']}..{labels['full_scale_node_class']}"
    assert in_range, f"{where}; requirements: {req.gpu}; {req.reason}"
    assert vendor_ok, f"{where}: GPU vendor {node.gpu_vendor}, labelled {labels['gpu_vendor']}"
    image = rules_image(req, node, images())
    assert image_fits(image, node) is None and info(image).arch == node.arch
    if labels.get("cuda") and req.cuda:
        assert req.cuda.split(".")[0] == labels["cuda"].split(".")[0]


# --- tests/corpus: every labels.json is well formed (whether the analysis gets them right is the benchmark's job) ---
PROJECT = Path(__file__).resolve().parent / "corpus"
PROJECT_REPOS = sorted(p.name for p in PROJECT.iterdir() if (p / "labels.json").is_file()) if PROJECT.is_dir() else []
TOP_FIELDS = {"repo": str, "commit": str, "category": str, "env_files": list, "evidence": list, "labels": dict,
              "confidence": str, "justification": str, "traps": str, "files_copied": list, "files_notes": list}
LABEL_CHOICES: dict[str, tuple[object, ...]] = {
    "gpu_required": ("yes", "optional", "no"),
    "gpu_vendor": ("nvidia", "amd", "any", "none"),
    "node_class": CLASS_ORDER,
    "full_scale_node_class": CLASS_ORDER,
    "fpga_vendor": (None, "xilinx", "intel"),
    "cpu_arch": (None, "x86_64", "aarch64"),
    "cpu_fallback": (True, False),
    "local_nvme": (True, False),
    "rdma": (True, False),
    "infeasible": (True, False),
}
NUMBERS = ("min_gpu_memory_gb", "gpu_count", "min_ram_gb", "min_cpu_cores", "min_gpu_compute_capability")
TEXTS = ("os", "cuda", "framework", "python")
CACHES = {".ruff_cache", ".mypy_cache", ".pytest_cache", "__pycache__"}  # tool droppings, not corpus data


def _doc(name: str) -> dict:
    return json.loads((PROJECT / name / "labels.json").read_text())


def test_project_corpus_is_present_and_large_enough() -> None:
    assert len(PROJECT_REPOS) >= 24
    assert {p.name for p in PROJECT.iterdir() if p.is_dir()} == set(PROJECT_REPOS), "a folder without labels.json"


@pytest.mark.parametrize("name", PROJECT_REPOS)
def test_project_labels_are_well_formed(name: str) -> None:
    doc = _doc(name)
    for key, kind in TOP_FIELDS.items():
        assert isinstance(doc.get(key), kind), f"{key} missing or not a {kind.__name__}"
    assert name == doc["repo"].replace("/", "__", 1), "folder name is <owner>__<name> of the repo"
    assert len(doc["commit"]) == 40 and all(c in "0123456789abcdef" for c in doc["commit"])
    assert doc["confidence"] in ("high", "medium", "low")
    labels = doc["labels"]
    missing = set(LABEL_CHOICES) | set(NUMBERS) | set(TEXTS)
    assert not missing - set(labels), f"label fields missing: {sorted(missing - set(labels))}"
    for key, allowed in LABEL_CHOICES.items():
        assert labels[key] in allowed, f"{key}={labels[key]!r} not one of {allowed}"
    for key in NUMBERS:
        assert labels[key] is None or (isinstance(labels[key], int | float) and labels[key] > 0), key
    for key in TEXTS:
        assert labels[key] is None or isinstance(labels[key], str), key
    assert CLASS_ORDER.index(labels["node_class"]) <= CLASS_ORDER.index(labels["full_scale_node_class"])


@pytest.mark.parametrize("name", PROJECT_REPOS)
def test_project_labels_are_consistent(name: str) -> None:
    labels = _doc(name)["labels"]
    gpu_path = labels["gpu_required"] != "no"
    assert (labels["gpu_vendor"] != "none") == gpu_path, "a GPU vendor exactly when a GPU is used"
    if labels["gpu_required"] == "yes":
        assert labels["node_class"] != "cpu" and labels["cpu_fallback"] is False
    if not gpu_path:
        assert labels["full_scale_node_class"] == "cpu" and labels["min_gpu_memory_gb"] is None
        assert labels["min_gpu_compute_capability"] is None
    if labels["cpu_arch"] == "aarch64" or labels["fpga_vendor"]:
        assert labels["gpu_vendor"] in ("none", "any"), "no Chameleon node combines these with a GPU"


@pytest.mark.parametrize("name", PROJECT_REPOS)
def test_project_files_exist_and_evidence_is_quoted(name: str) -> None:
    doc, files = _doc(name), PROJECT / name / "files"
    on_disk = {p.relative_to(files).as_posix() for p in files.rglob("*")
               if p.is_file() and not CACHES.intersection(p.relative_to(files).parts)}
    assert set(doc["files_copied"]) == on_disk, "files_copied lists exactly the files under files/"
    assert all(f in doc["env_files"] or any(fnmatch.fnmatch(f, g) for g in doc["env_files"])
               for f in doc["files_copied"]), "every copied file is one of env_files"
    assert all((files / f).stat().st_size <= 60_000 for f in on_disk)
    assert doc["evidence"], "a label needs its evidence"
    for item in doc["evidence"]:
        assert set(item) == {"file", "quote"} and item["quote"]
        if item["file"] in on_disk:  # quotes from files left out (code, build recipes) cannot be checked here
            assert item["quote"] in (files / item["file"]).read_text(), f"{item['file']}: {item['quote']!r}"


# --- the benchmark's verdict helpers (tests/catalog.py) ---
def _node(node_type: str, gpus: int | None = None) -> NodeRecord:
    return next(n for n in CATALOG if n.node_type == node_type and (gpus is None or n.gpu_count == gpus))


def _labels(**kw: object) -> dict:
    base = {"node_class": "gpu_small", "full_scale_node_class": "gpu_small", "gpu_vendor": "nvidia",
            "min_gpu_memory_gb": None, "infeasible": False}
    return {**base, **kw}


def test_memory_floor_is_per_gpu_or_total_for_multi_gpu_labels() -> None:
    rtx, a100x4 = _node("gpu_rtx_6000"), _node("gpu_a100_pcie")
    assert memory_verdict(_labels(min_gpu_memory_gb=24), rtx) is True
    assert memory_verdict(_labels(min_gpu_memory_gb=40), rtx) is False
    assert memory_verdict(_labels(min_gpu_memory_gb=314, node_class="multi-gpu"), a100x4) is True
    assert memory_verdict(_labels(min_gpu_memory_gb=314), a100x4) is False
    assert memory_verdict(_labels(), rtx) is None
    cpu = _node("compute_skylake")
    assert memory_verdict(_labels(min_gpu_memory_gb=10, node_class="cpu"), cpu) is None
    assert memory_verdict(_labels(min_gpu_memory_gb=10), cpu) is False
    assert memory_verdict(_labels(min_gpu_memory_gb=685, infeasible=True), None) is True


def test_special_needs_count_missing_node_fields_as_not_met() -> None:
    arm, ib, skylake = _node("compute_arm64"), _node("compute_haswell_ib"), _node("compute_skylake")
    assert special_misses(_labels(cpu_arch="aarch64"), arm) == []
    assert special_misses(_labels(cpu_arch="aarch64"), skylake) == ["needs aarch64, node is x86_64"]
    assert special_misses(_labels(rdma=True), ib) == []
    assert special_misses(_labels(rdma=True), skylake)
    assert special_misses(_labels(fpga_vendor="xilinx"), skylake)
    assert special_misses(_labels(local_nvme=True), skylake)
    assert special_misses(_labels(min_gpu_compute_capability=8.0), _node("gpu_rtx_6000"))
    assert special_misses(_labels(), skylake) == []


def test_image_must_match_the_nodes_arch_and_gpu_stack() -> None:
    by_name = {i.name: i for i in images()}
    assert image_problem(by_name["CC-Ubuntu24.04-ARM64"], _node("compute_arm64")) is None
    assert image_problem(by_name["CC-Ubuntu24.04"], _node("compute_arm64"))
    assert image_problem(by_name["CC-Ubuntu22.04-CUDA"], _node("gpu_rtx_6000")) is None
    assert image_problem(by_name["CC-Ubuntu22.04"], _node("gpu_rtx_6000"))
    assert image_problem(by_name["CC-Ubuntu24.04-ROCm"], _node("gpu_mi100")) is None
    assert image_problem(by_name["CC-Ubuntu24.04-CUDA"], _node("compute_skylake"))
    assert image_problem(by_name["CC-Ubuntu24.04-CUDA-VGPU"], _node("gpu_rtx_6000"))
