"""Following the setup over SSH, with a fake `ssh` on PATH that answers from a script of replies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from setup_node import install_fake_ssh

from chameleon_provision.errors import SetupFailed
from chameleon_provision.pipeline.node_setup import check_setup
from chameleon_provision.setup.follow import STATUS_FILE, Target, follow


def status(state: str, step: str, index: int, **extra: Any) -> dict[str, Any]:
    return {"schema_version": 1, "state": state, "step": step, "step_index": index, "steps_total": 5,
            "failed_step": step if state == "failed" else None, "log_tail": "", **extra}


@pytest.fixture
def fake_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return lambda *answers: install_fake_ssh(tmp_path, monkeypatch, *answers)


def _target(tmp_path: Path) -> Target:
    return Target("192.0.2.10", tmp_path / "key", tmp_path / "known_hosts")


class Clock:
    def __init__(self, step: float = 30.0) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += self.step


def test_follows_each_step_to_ok_with_progress(fake_ssh: Any, tmp_path: Path) -> None:
    box = fake_ssh((1, "cat: /home/cc/.provision/setup.status: No such file or directory"),
                   status("running", "apt", 1), status("running", "venv", 3), status("running", "venv", 3),
                   status("ok", "done", 5))
    lines: list[str] = []
    clock = Clock()
    seen = follow(_target(tmp_path), timeout=3600, poll=10, progress=lines.append, clock=clock, sleep=clock.sleep)
    assert seen.state == "ok" and seen.failed_step is None and seen.elapsed_s == 120
    assert lines == ["setup: not started yet (no /home/cc/.provision/setup.status), 0m00s elapsed",
                     "setup: step 1/5 apt, 0m30s elapsed", "setup: step 3/5 venv, 1m00s elapsed",
                     "setup: finished, 2m00s elapsed"]
    call = (box / "calls").read_text().splitlines()[0]
    assert call.startswith("-o BatchMode=yes -o ConnectTimeout=10 -o StrictHostKeyChecking=accept-new")
    assert f"-o IdentitiesOnly=yes -i {tmp_path / 'key'} -a cc@192.0.2.10 -- cat {STATUS_FILE}" in call


def test_a_failed_step_ends_the_follow_with_its_log_tail(fake_ssh: Any, tmp_path: Path) -> None:
    fake_ssh(status("running", "pip-requirements", 4),
             status("failed", "pip-requirements", 4, log_tail="ERROR: No matching distribution for torch==9\n"))
    clock = Clock()
    seen = follow(_target(tmp_path), timeout=3600, poll=10, progress=lambda _: None, clock=clock, sleep=clock.sleep)
    assert seen.state == "failed" and seen.failed_step == "pip-requirements"
    assert "No matching distribution" in seen.log_tail and seen.detail == "step pip-requirements failed"
    with pytest.raises(SetupFailed, match="failed in step pip-requirements") as caught:
        check_setup({"run_id": "r1", "ssh_command": "ssh cc@192.0.2.10", "setup": {"outcome": seen.as_dict()}})
    assert caught.value.exit_code == 16 and "provision destroy r1" in (caught.value.hint or "")


def test_a_node_ssh_cannot_reach_is_not_followed_in_one_line(fake_ssh: Any, tmp_path: Path) -> None:
    fake_ssh((255, "ssh: connect to host 192.0.2.10 port 22: Connection timed out"))
    lines: list[str] = []
    clock = Clock()
    seen = follow(_target(tmp_path), timeout=3600, poll=10, progress=lines.append, clock=clock, sleep=clock.sleep)
    assert seen.state == "not followed" and lines == []
    assert seen.detail == ("cannot reach cc@192.0.2.10 over SSH (ssh: connect to host 192.0.2.10 port 22: "
                           "Connection timed out)")


def test_a_setup_still_running_at_the_timeout_is_reported_as_such(fake_ssh: Any, tmp_path: Path) -> None:
    fake_ssh(status("running", "conda", 3))
    clock = Clock(step=100)
    seen = follow(_target(tmp_path), timeout=250, poll=100, progress=lambda _: None, clock=clock, sleep=clock.sleep)
    assert seen.state == "timeout" and seen.step == "conda" and seen.elapsed_s == 300
    assert "goes on on the node" in seen.detail


def test_a_private_repository_is_cloned_with_the_forwarded_agent_only(fake_ssh: Any, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    fake_ssh(status("waiting", "clone", 2))
    clock = Clock()
    seen = follow(_target(tmp_path), timeout=3600, poll=10, progress=lambda _: None, clock=clock, sleep=clock.sleep)
    assert seen.state == "waiting" and "ssh -A cc@192.0.2.10 bash /home/cc/.provision/setup.sh" in seen.detail

    box = fake_ssh(status("waiting", "clone", 2), status("running", "clone", 2), status("ok", "done", 5))
    monkeypatch.setenv("SSH_AUTH_SOCK", str(tmp_path / "agent.sock"))
    seen = follow(_target(tmp_path), timeout=3600, poll=10, progress=lambda _: None, clock=clock, sleep=clock.sleep)
    assert seen.state == "ok"
    agent_calls = [c for c in (box / "calls").read_text().splitlines() if " -A " in c]
    assert len(agent_calls) == 1 and agent_calls[0].endswith("cc@192.0.2.10 -- bash /home/cc/.provision/setup.sh")
