"""End to end against the twin: the plan carries the setup script, the server gets it as user-data."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest
from helpers import Openstack, RunMain, ok
from setup_node import install_fake_ssh

pytestmark = pytest.mark.e2e


def _repo(tmp_path: Path) -> Path:
    """A local checkout whose `origin` is an https URL: what the node clones."""
    repo = tmp_path / "demo"
    repo.mkdir()
    (repo / "requirements.txt").write_text("pandas\nscikit-learn\n")
    (repo / "apt.txt").write_text("libgl1\n")
    (repo / "main.py").write_text("import pandas\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git[:3], "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "demo"], check=True)
    subprocess.run([*git[:3], "remote", "add", "origin", "https://github.com/example/demo"], check=True)
    return repo


def test_the_plan_has_the_script_and_the_server_gets_it_as_user_data(
        tmp_path: Path, cloud_env: dict[str, str], run_main: RunMain, openstack: Openstack) -> None:
    repo = str(_repo(tmp_path))
    code, out, err = run_main(repo, "--plan-only", "--json", "--setup-cmd", "python main.py")
    assert code == 0, err
    setup = json.loads(out)["setup"]
    assert setup["enabled"] and setup["script"].startswith("#!/bin/bash\n")
    assert [s["name"] for s in setup["steps"]] == ["apt", "clone", "venv", "pip-requirements", "import-check",
                                                   "setup-cmd-1"]
    assert setup["clone"]["url"] == "https://github.com/example/demo" and setup["clone"]["mode"] == "https"
    assert "git clone -- https://github.com/example/demo" in setup["script"]
    assert any("push that commit" in n for n in setup["notes"])

    code, out, err = run_main(repo, "--plan-only", "--json", "--no-setup")
    assert json.loads(out)["setup"] == {"enabled": False, "reason": "--no-setup"}

    code, out, err = run_main(repo, "--yes", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["setup"]["outcome"]["state"] == "not followed"
    assert "setup: not followed (the node does not answer SSH from here" in err
    server = ok(openstack("server", "show", doc["server"]["id"]))
    assert base64.b64decode(server["OS-EXT-SRV-ATTR:user_data"]).decode() == doc["setup"]["script"]

    code, out, err = run_main("status", doc["run_id"])
    assert f"{doc['run_id']}: setup not followed" in out
    code, out, err = run_main("status", doc["run_id"], "--json")
    assert json.loads(out)["runs"][0]["setup"]["state"] == "not followed"
    assert run_main("destroy", doc["run_id"], "--yes")[0] == 0


def test_user_data_over_novas_limit_gets_novas_error(tmp_path: Path, cloud_env: dict[str, str],
                                                     openstack: Openstack) -> None:
    big = tmp_path / "big.sh"
    big.write_text("#!/bin/bash\n" + "#" * 49_200 + "\n")  # 65,620 bytes once base64-encoded
    code, _, err = openstack("server", "create", "--flavor", "baremetal", "--image", "CC-Ubuntu22.04",
                               "--network", "sharednet1", "--user-data", str(big), "too-big")
    assert code != 0 and "Invalid input for field/attribute user_data." in err and "is too long" in err
    assert not [s for s in ok(openstack("server", "list")) if s["Name"] == "too-big"]


def test_a_failed_setup_followed_over_ssh_is_exit_16_and_keeps_the_node(
        tmp_path: Path, cloud_env: dict[str, str], run_main: RunMain, monkeypatch: pytest.MonkeyPatch) -> None:
    # The twin's addresses are not routed: here port 22 "answers" and a fake ssh plays the node.
    monkeypatch.setattr("chameleon_provision.cloud.network_manager.wait_for_ssh", lambda *a, **k: True)
    install_fake_ssh(tmp_path, monkeypatch,
                     {"state": "running", "step": "pip-requirements", "step_index": 4, "steps_total": 6},
                     {"state": "failed", "step": "pip-requirements", "step_index": 4, "steps_total": 6,
                      "failed_step": "pip-requirements", "log_tail": "ERROR: No matching distribution found\n"})
    code, out, err = run_main(str(_repo(tmp_path)), "--yes", "--json")
    assert code == 16, err
    assert "setup: step 4/6 pip-requirements, 0m00s elapsed" in err
    assert "ERROR: No matching distribution found" in err
    doc = json.loads(out)
    assert doc["error"]["type"] == "SetupFailed" and doc["server"]["status"] == "ACTIVE"
    assert doc["setup"]["outcome"]["failed_step"] == "pip-requirements"
    code, out, _ = run_main("status", doc["run_id"], "--json")
    (run,) = json.loads(out)["runs"]
    assert run["status"] == "ready" and run["setup"]["state"] == "failed"
    assert run_main("destroy", doc["run_id"], "--yes")[0] == 0
