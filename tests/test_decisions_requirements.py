"""Decision 1: the answer model, and the checks that tie an answer to the scanned facts."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from chameleon_provision.decisions.requirements import RequirementsAnswer, requirements_from_answer
from chameleon_provision.repo_analyzer import Analysis, analyze

FIXTURES = Path(__file__).parent / "fixtures" / "repos"


@pytest.fixture(scope="module")
def conda() -> Analysis:
    return analyze(FIXTURES / "conda_cudatoolkit")


def answer(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "gpu": {"required": "yes", "count": 1, "min_memory_gb": 10, "vendor": "nvidia",
                "min_compute_capability": None},
        "cpu_cores": None, "ram_gb": None, "arch": "x86_64", "os": None, "cuda": "11.3",
        "frameworks": ["pytorch"], "estimated_runtime_hours": 2,
        "fpga": None, "fpga_model": None, "local_nvme": 0, "rdma": False, "persistent_memory": False,
        "evidence": [{"file": "environment.yaml", "line": 7, "text": "- cudatoolkit=11.3"},
                     {"file": "README.md", "line": 3, "text": "runs on a GPU with at least 10GB VRAM"}],
        "reason": "cudatoolkit pin and a 10 GB VRAM statement",
    }
    for key, value in overrides.items():
        if key.startswith("gpu_"):
            base["gpu"][key[4:]] = value
        else:
            base[key] = value
    return base


def check(raw: dict[str, Any], analysis: Analysis) -> Any:
    return requirements_from_answer(RequirementsAnswer.model_validate(raw), analysis)


def test_schema_is_strict_output_ready() -> None:
    """Strict json_schema output needs every property required and no extra properties, at every level."""
    schema = RequirementsAnswer.model_json_schema()
    for obj in [schema, *schema["$defs"].values()]:
        assert obj["additionalProperties"] is False
        assert set(obj["required"]) == set(obj["properties"])
    assert set(schema["$defs"]["GpuAnswer"]["required"]) == {"required", "count", "min_memory_gb", "vendor",
                                                             "min_compute_capability"}
    assert set(schema["$defs"]["EvidenceAnswer"]["required"]) == {"file", "line", "text"}


def test_valid_answer(conda: Analysis) -> None:
    req = check(answer(), conda)
    assert req.decided_by == "ai"
    assert (req.gpu.required, req.gpu.count, req.gpu.min_memory_gb, req.gpu.vendor) == ("yes", 1, 10.0, "nvidia")
    assert req.cuda == "11.3" and req.frameworks == ("pytorch",)
    assert [(e.file, e.line) for e in req.evidence] == [("environment.yaml", 7), ("README.md", 3)]


@pytest.mark.parametrize(("change", "where"), [
    ({"gpu_count": 64}, "gpu.count"),
    ({"gpu_min_memory_gb": 5000}, "gpu.min_memory_gb"),
    ({"gpu_min_memory_gb": float("nan")}, "gpu.min_memory_gb"),
    ({"estimated_runtime_hours": float("inf")}, "estimated_runtime_hours"),
    ({"cpu_cores": 100000}, "cpu_cores"),
    ({"gpu_count": "2"}, "gpu.count"),
    ({"gpu_required": True}, "gpu.required"),
    ({"surprise": 1}, "surprise"),
])
def test_out_of_bounds_or_mistyped_answers_are_refused(change: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError) as info:
        RequirementsAnswer.model_validate(answer(**change))
    assert where in {".".join(str(p) for p in e["loc"]) for e in info.value.errors()}


def test_evidence_in_dot_folders_is_accepted() -> None:
    analysis = analyze(FIXTURES / "devcontainer_gpu")
    path = next(f for f in analysis.files if f.startswith(".devcontainer/"))
    line, text = next((i, t) for i, t in enumerate(analysis.texts[path].splitlines(), 1) if "gpu" in t.lower())
    for cited in (path, f"./{path}"):
        req = check(answer(cuda=None, evidence=[{"file": cited, "line": line, "text": text.strip()}]), analysis)
        assert req.evidence[0].file == path


def test_line_is_corrected_when_text_is_elsewhere(conda: Analysis) -> None:
    ev = [{"file": "README.md", "line": 1, "text": "The model runs on a GPU with at least 10GB VRAM."}]
    req = check(answer(evidence=ev), conda)
    assert req.evidence[0].line == 3


@pytest.mark.parametrize(("change", "message"), [
    ({"gpu_vendor": "none"}, "gpu.vendor is 'none'"),
    ({"gpu_count": 0}, "gpu.count is 0"),
    ({"gpu_required": "no", "gpu_count": 0, "gpu_min_memory_gb": None, "gpu_vendor": "none"}, "contradicts"),
    ({"gpu_required": "no"}, "describe a GPU"),
    ({"gpu_vendor": "amd"}, "contradicts"),
    ({"evidence": []}, "cite at least one"),
    ({"evidence": [{"file": "setup.py", "line": 1, "text": "x"}]}, "not among the scanned files"),
    ({"evidence": [{"file": "README.md", "line": 99, "text": "GPU"}]}, "past the end"),
    ({"evidence": [{"file": "README.md", "line": 3, "text": "needs eight H100 GPUs"}]}, "does not appear"),
    ({"os": "windows11"}, "not like 'ubuntu22.04'"),
    ({"cuda": "latest"}, "not a version"),
])
def test_incoherent_answers(conda: Analysis, change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check(answer(**change), conda)


def test_cpu_answer_for_cpu_repo() -> None:
    a = analyze(FIXTURES / "cpu_pandas")
    req = check(answer(gpu_required="no", gpu_count=0, gpu_min_memory_gb=None, gpu_vendor="none",
                                          cuda=None, os="Ubuntu 22.04",
                                          evidence=[{"file": "requirements.txt", "line": 1, "text": "pandas==2.2.0"}]),
                                   a)
    assert (req.gpu.required, req.gpu.vendor, req.os) == ("no", "none", "ubuntu22.04")


def test_answer_not_mutated(conda: Analysis) -> None:
    original = answer()
    kept = copy.deepcopy(original)
    check(original, conda)
    assert original == kept


def cpu_answer(evidence: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    return answer(gpu_required="no", gpu_count=0, gpu_min_memory_gb=None, gpu_vendor="none", cuda=None,
                  frameworks=[], evidence=evidence, **overrides)


def test_hardware_fields_pass_through_when_the_facts_show_them() -> None:
    vitis = analyze(FIXTURES / "hw_vitis")
    ev = [{"file": "Makefile", "line": 9, "text": "v++ -c -t $(TARGET) --platform $(PLATFORM) -k vadd -o $@ $<"}]
    req = check(cpu_answer(ev, fpga="xilinx", fpga_model="u280"), vitis)
    assert (req.fpga, req.fpga_model, req.decided_by) == ("xilinx", "U280", "ai")


@pytest.mark.parametrize(("repo", "change", "message"), [
    ("hw_vitis", {}, r"fpga None contradicts Makefile:\d+"),
    ("hw_vitis", {"fpga": "intel"}, "contradicts the toolchain found, which is xilinx"),
    ("hw_vitis", {"fpga": "xilinx", "fpga_model": "U250"}, "fpga_model 'U250' is not named by any scanned file"),
    ("hw_spdk", {"local_nvme": 1}, r"local_nvme 1 contradicts"),
    ("hw_rdma", {}, r"rdma False contradicts (CMakeLists\.txt:3|pingpong\.c:1)"),
    ("hw_arm_neon", {}, r"arch 'x86_64' contradicts src/dot\.c:2 .*which needs aarch64"),
    ("cpu_pandas", {"rdma": True}, "rdma is set but no scanned file shows that need"),
    ("cpu_pandas", {"arch": "aarch64"}, "arch 'aarch64' is set but no scanned file"),
    ("cpu_pandas", {"persistent_memory": True}, "persistent_memory is set but"),
])
def test_special_hardware_must_rest_on_the_facts(repo: str, change: dict[str, Any], message: str) -> None:
    analysis = analyze(FIXTURES / repo)
    rel = sorted(analysis.texts)[0]
    ev = [{"file": rel, "line": 1, "text": analysis.texts[rel].splitlines()[0]}]
    with pytest.raises(ValueError, match=message):
        check(cpu_answer(ev, **change), analysis)


def test_a_gpu_generation_floor_cannot_be_lowered_by_the_model() -> None:
    analysis = analyze(FIXTURES / "hw_cc80")
    ev = [{"file": "setup.py", "line": 5, "text": 'os.environ["TORCH_CUDA_ARCH_LIST"] = "8.0 8.6 9.0"'}]
    with pytest.raises(ValueError, match=r"gpu.min_compute_capability 7.0 is below 8"):
        check(answer(cuda=None, gpu_min_compute_capability=7.0, gpu_min_memory_gb=None, evidence=ev), analysis)
    req = check(answer(cuda=None, gpu_min_compute_capability=None, gpu_min_memory_gb=None, evidence=ev)
                | {"gpu": {"required": "yes", "count": 1, "min_memory_gb": None, "vendor": "nvidia",
                           "min_compute_capability": 8.0}}, analysis)
    assert req.gpu.min_compute_capability == 8.0
