"""docs/ci.md's GitHub Actions workflow, run as written against the twin (started and pointed at as the doc says).

Each `run:` step runs in GitHub's default shell (`bash --noprofile --norc -eo pipefail`), with the step's
`env:` (secrets unset) and `GITHUB_ENV` honoured between steps. `uses:` steps are GitHub's own actions,
and the install step is what this checkout's environment already is.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from chameleon_twin.server import TwinServer

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[1]
SHELL = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c"]


def workflow() -> dict:
    text = (ROOT / "docs" / "ci.md").read_text()
    block = re.search(r"```yaml\n(name: chameleon-plan.*?)```", text, re.S)
    assert block, "docs/ci.md has no workflow"
    return yaml.safe_load(block.group(1))


def run_steps(steps: list[dict], repo: Path, twin_setup: str, env: dict[str, str]) -> list[str]:
    outputs = []
    github_env = repo.parent / "github_env"
    github_env.write_text("")
    for step in steps:
        if "run" not in step or step.get("name", "").startswith("Install"):
            continue
        step_env = {k: "" if "${{" in str(v) else str(v) for k, v in (step.get("env") or {}).items()}
        extra = dict(line.split("=", 1) for line in github_env.read_text().splitlines() if "=" in line)
        done = subprocess.run([*SHELL, f"{twin_setup}\n{step['run']}"], cwd=repo, capture_output=True, text=True,
                              env={**env, **extra, **step_env, "GITHUB_ENV": str(github_env)}, timeout=300, check=False)
        assert done.returncode == 0, f"step {step.get('name')} failed:\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)
    return outputs


def test_the_documented_workflow_runs_as_written_against_the_twin(twin: TwinServer, tmp_path: Path) -> None:
    steps = workflow()["jobs"]["plan"]["steps"]
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "examples" / "pandas-sklearn", repo)
    bin_dir = str(Path(sys.executable).parent)  # where `provision` and `chameleon-twin` are installed
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp_path / "home"), "LANG": "C.UTF-8",
           "PROVISION_STATE_DIR": str(tmp_path / "state")}
    # `chameleon-twin serve --port PORT &` is this test's twin; the environment comes from it as the doc says
    setup = f'eval "$(chameleon-twin env --port {twin.port})"'
    out = run_steps(steps, repo, setup, env)
    assert any(line.startswith("plan: compute_") for line in "".join(out).splitlines())
    plan = json.loads((repo / "plan.json").read_text())
    assert plan["mode"] == "plan" and plan["resource"]["site"] == "CHI@UC"

    (repo / ".chameleon").mkdir()  # the plan accepted: the next push compares against it
    shutil.copy(repo / "plan.json", repo / ".chameleon" / "plan.json")
    out = run_steps(steps, repo, setup, env)
    assert "the plans are the same" in out[-1] and "::notice::" not in out[-1]
    (repo / "requirements.txt").write_text("torch==2.3.0\ntransformers\n")  # new frameworks: a different plan
    out = run_steps(steps, repo, setup, env)
    assert "::notice::the plan changed" in out[-1] and "frameworks:" in out[-1]
