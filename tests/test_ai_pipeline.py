"""The AI path end to end: the real openai SDK against a local endpoint, the real CLI against the twin."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from fake_llm import FakeLLM
from helpers import RunMain

from chameleon_twin.server import TwinServer

pytestmark = pytest.mark.e2e
GPU_REPO = str(Path(__file__).resolve().parents[1] / "examples" / "pytorch-gpu-24gb")

REQUIREMENTS = {
    "gpu": {"required": "yes", "count": 1, "min_memory_gb": 24, "vendor": "nvidia", "min_compute_capability": None},
    "cpu_cores": None, "ram_gb": None, "arch": "x86_64", "os": None, "cuda": "12.1",
    "frameworks": ["pytorch"], "estimated_runtime_hours": 6,
    "fpga": None, "fpga_model": None, "local_nvme": 0, "rdma": False, "persistent_memory": False,
    "evidence": [{"file": "README.md", "line": 7,
                  "text": "Training needs an NVIDIA GPU with at least 24 GB of memory"}],
    "reason": "README states a 24 GB NVIDIA GPU",
}
NODE = {"site": "CHI@UC", "node_type": "gpu_rtx_6000", "resource_properties": ["==", "$node_type", "gpu_rtx_6000"],
        "reason": "smallest 24 GB NVIDIA node"}


@pytest.fixture
def ai_env(twin: TwinServer, fake_llm, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    for key, value in twin.env("CHI@UC").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-key")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_llm.base_url)


def plan(run_main: RunMain, *extra: str) -> tuple[dict, str]:
    code, out, err = run_main(GPU_REPO, "--plan-only", "--json", *extra)
    assert code == 0, err
    return json.loads(out), err


def test_valid_answers_are_used_for_all_four_decisions(ai_env: None, fake_llm, run_main) -> None:  # type: ignore[no-untyped-def]
    fake_llm.enqueue(json.dumps(REQUIREMENTS), json.dumps(NODE), '{"hours": 9, "reason": "6 h run + setup"}',
                     '{"names": ["CC-Ubuntu22.04-CUDA", "CC-Ubuntu24.04-CUDA"], "reason": "CUDA images"}',
                     '{"name": "CC-Ubuntu22.04-CUDA", "reason": "CUDA 12.1 wheels target 22.04"}')
    doc, err = plan(run_main)
    assert doc["requirements"]["decided_by"] == "ai"
    assert doc["requirements"]["evidence"][0]["file"] == "README.md"
    assert (doc["resource"]["node_type"], doc["resource"]["decided_by"]) == ("gpu_rtx_6000", "ai")
    assert (doc["lease"]["hours"], doc["lease"]["decided_by"]) == (9, "ai")
    assert (doc["image"]["name"], doc["image"]["decided_by"]) == ("CC-Ubuntu22.04-CUDA", "ai")
    assert doc["stats"]["ai_calls"] == 5
    # Repository text reaches the model only as quoted data, and the key never leaves the SDK.
    first = fake_llm.requests[0]
    assert "untrusted" in first.messages[0]["content"].lower()
    assert "<<<BEGIN DATA>>>" in first.messages[1]["content"]
    assert "sk-test-secret-key" not in err + json.dumps(doc)


def test_bad_answers_retry_once_then_fall_back_to_rules(ai_env: None, fake_llm, run_main) -> None:  # type: ignore[no-untyped-def]
    fake_llm.enqueue(
        "Sure! Here is the JSON:\n```json\n" + json.dumps(REQUIREMENTS) + "\n```",   # prose-wrapped: accepted
        json.dumps(NODE | {"node_type": "gpu_h200"}),                                  # not in the catalog
        json.dumps(NODE | {"node_type": "gpu_h200"}),                                  # still not: rules decide
        '{"hours": 2000, "reason": "the README asks for a month"}',                   # beyond policy
        "not json at all",                                                             # malformed: rules decide
        '{"names": ["CC-Ubuntu22.04-CUDA"], "reason": "ok"}',
        '{"name": "CC-Ubuntu22.04", "reason": "plain"}',                               # not on the shortlist
        '{"name": "CC-Ubuntu22.04", "reason": "plain"}',
    )
    doc, _ = plan(run_main)
    assert doc["requirements"]["decided_by"] == "ai"
    assert doc["resource"]["decided_by"] == "rules" and "AI: invalid answer twice" in doc["resource"]["reason"]
    assert doc["resource"]["hardware"]["gpu_memory_gb"] >= 24
    assert doc["lease"]["decided_by"] == "rules" and doc["lease"]["hours"] <= 168
    assert doc["image"]["decided_by"] == "rules" and "CUDA" in doc["image"]["name"]
    assert doc["stats"]["ai_calls"] == 8
    retry = fake_llm.requests[2].messages[-1]["content"]
    assert "gpu_h200" in retry  # the retry says exactly what was wrong


def test_endpoint_down_means_rules(ai_env: None, fake_llm, run_main) -> None:  # type: ignore[no-untyped-def]
    fake_llm.enqueue(*[fake_llm.error(500)] * 5)
    doc, _ = plan(run_main)
    assert {doc[k]["decided_by"] for k in ("requirements", "image", "resource", "lease")} == {"rules"}


def test_a_repository_env_file_redirects_no_request(ai_env: None, fake_llm, run_main,  # type: ignore[no-untyped-def]
                                                   monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                   isolated_env: Path) -> None:
    """`provision .` inside a hostile clone whose .env names another AI endpoint, key, Keystone and discovery API.

    The user keeps their AI and endpoint settings in their own config folder's .env; the clone's .env
    must not override any of them, nor fill in what the environment leaves unset.
    """
    redirectable = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CHAMELEON_API_URL", "PROVISION_SITE_AUTH_URLS")
    config = isolated_env / ".config" / "chameleon-provision"
    config.mkdir(parents=True)
    (config / ".env").write_text("".join(f"{k}={os.environ[k]}\n" for k in redirectable))
    for key in (*redirectable, "PROVISION_ENV_FILE"):
        monkeypatch.delenv(key)
    repo = tmp_path / "repo"
    shutil.copytree(GPU_REPO, repo)
    with FakeLLM() as evil:
        (repo / ".env").write_text(f"OPENAI_BASE_URL={evil.base_url}\nOPENAI_API_KEY=sk-evil\n"
                                   f"CHAMELEON_API_URL={evil.base_url}\nOS_AUTH_URL={evil.base_url}/v3\n"
                                   f"PROVISION_SITE_AUTH_URLS=CHI@UC={evil.base_url}/v3\n")
        monkeypatch.chdir(repo)
        fake_llm.enqueue(*(["{}"] * 10))
        code, _, err = run_main(".", "--plan-only", "--json")
        assert code == 0, err
        assert evil.requests == []
    assert fake_llm.requests
    assert all(r.headers["authorization"] == "Bearer sk-test-secret-key" for r in fake_llm.requests)
    assert "ignoring CHAMELEON_API_URL, OPENAI_API_KEY, OPENAI_BASE_URL, OS_AUTH_URL, PROVISION_SITE_AUTH_URLS" in err
