"""AI decision 1: the answer schema, and the checks that tie an answer to the scanned facts."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from chameleon_provision.repo_analyzer import Analysis, analyze, requirements_from_answer, requirements_schema

FIXTURES = Path(__file__).parent / "fixtures" / "repos"


@pytest.fixture(scope="module")
def conda() -> Analysis:
    return analyze(FIXTURES / "conda_cudatoolkit")


def answer(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "gpu": {"required": "yes", "count": 1, "min_memory_gb": 10, "vendor": "nvidia"},
        "cpu_cores": None, "ram_gb": None, "arch": "x86_64", "os": None, "cuda": "11.3",
        "frameworks": ["pytorch"], "estimated_runtime_hours": 2,
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


def test_schema_shape() -> None:
    schema = requirements_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == set(schema["properties"])
    gpu = schema["properties"]["gpu"]
    assert set(gpu["required"]) == {"required", "count", "min_memory_gb", "vendor"}
    item = schema["properties"]["evidence"]["items"]
    assert set(item["required"]) == {"file", "line", "text"}


def test_schema_is_accepted_by_ai_client() -> None:
    from chameleon_provision import ai_client

    ai_client._check_keywords(requirements_schema())  # refuses keywords it cannot check


def test_valid_answer(conda: Analysis) -> None:
    req = requirements_from_answer(answer(), conda)
    assert req.decided_by == "ai"
    assert (req.gpu.required, req.gpu.count, req.gpu.min_memory_gb, req.gpu.vendor) == ("yes", 1, 10.0, "nvidia")
    assert req.cuda == "11.3" and req.frameworks == ("pytorch",)
    assert [(e.file, e.line) for e in req.evidence] == [("environment.yaml", 7), ("README.md", 3)]


def test_clamps(conda: Analysis) -> None:
    req = requirements_from_answer(answer(gpu_count=64, gpu_min_memory_gb=5000, estimated_runtime_hours=900,
                                          cpu_cores=100000), conda)
    assert (req.gpu.count, req.gpu.min_memory_gb, req.estimated_runtime_hours, req.cpu_cores) == (8, 640.0, 168.0, 512)


def test_line_is_corrected_when_text_is_elsewhere(conda: Analysis) -> None:
    ev = [{"file": "README.md", "line": 1, "text": "The model runs on a GPU with at least 10GB VRAM."}]
    req = requirements_from_answer(answer(evidence=ev), conda)
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
        requirements_from_answer(answer(**change), conda)


def test_cpu_answer_for_cpu_repo() -> None:
    a = analyze(FIXTURES / "cpu_pandas")
    req = requirements_from_answer(answer(gpu_required="no", gpu_count=0, gpu_min_memory_gb=None, gpu_vendor="none",
                                          cuda=None, os="Ubuntu 22.04",
                                          evidence=[{"file": "requirements.txt", "line": 1, "text": "pandas==2.2.0"}]),
                                   a)
    assert (req.gpu.required, req.gpu.vendor, req.os) == ("no", "none", "ubuntu22.04")


def test_answer_not_mutated(conda: Analysis) -> None:
    original = answer()
    kept = copy.deepcopy(original)
    requirements_from_answer(original, conda)
    assert original == kept
