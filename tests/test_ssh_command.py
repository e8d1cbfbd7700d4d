"""commands.ssh: the Include line asked for, printed or left alone, and the ssh command `provision ssh` runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chameleon_provision.commands.ssh import publish, ssh_argv
from chameleon_provision.errors import StateError
from chameleon_provision.state import ssh_config
from chameleon_provision.state.store import StateStore


def test_yes_adds_the_include_and_the_command_is_plain_ssh(isolated_env: Path, tmp_path: Path) -> None:
    said: list[str] = []
    asked: list[str] = []
    doc = publish(tmp_path, "run-1", "exp1", "192.5.87.10", None, lambda q: asked.append(q) or True, said.append)
    assert doc["included"] is True and doc["command"] == "ssh exp1" and len(asked) == 1
    assert ssh_config.has_include(tmp_path, isolated_env / ".ssh" / "config")
    doc = publish(tmp_path, "run-2", "exp2", "192.5.87.11", None, lambda q: asked.append(q) or True, said.append)
    assert doc["included"] is True and len(asked) == 1  # asked once, never again


def test_no_terminal_prints_the_line_and_writes_nothing(isolated_env: Path, tmp_path: Path) -> None:
    said: list[str] = []
    doc = publish(tmp_path, "run-1", "exp1", "192.5.87.10", None, None, said.append)
    assert doc["included"] is False and doc["command"] == f"ssh -F {ssh_config.config_path(tmp_path)} exp1"
    assert doc["include_line"] in said[0] and not (isolated_env / ".ssh").exists()
    declined = publish(tmp_path, "run-2", "exp2", "192.5.87.11", None, lambda q: False, said.append)
    assert declined["included"] is False and len(said) == 2


def test_include_turned_off_is_neither_asked_nor_mentioned(isolated_env: Path, tmp_path: Path) -> None:
    said: list[str] = []
    doc = publish(tmp_path, "run-1", "exp1", "192.5.87.10", None, lambda q: pytest.fail("asked"), said.append,
                  offer=False)
    assert doc["included"] is False and said == [] and not (isolated_env / ".ssh").exists()


def test_provision_ssh_runs_ssh_with_or_without_our_file(isolated_env: Path, tmp_path: Path) -> None:
    if shutil.which("ssh") is None:
        pytest.skip("no ssh client installed")
    store = StateStore(tmp_path / "runs.sqlite3")
    store.new_run("run-1", source="./r", commit_sha=None, site="CHI@UC", mode="provision", name="exp1")
    with pytest.raises(StateError, match="no ready node"):
        ssh_argv(tmp_path, store, "run-1", [])
    store.update_run("run-1", status="ready", ssh_command="ssh -i k cc@192.5.87.10")
    with pytest.raises(StateError, match="no Host block") as info:
        ssh_argv(tmp_path, store, "run-1", [])
    assert info.value.hint == "use ssh -i k cc@192.5.87.10"
    publish(tmp_path, "run-1", "exp1", "192.5.87.10", None, None, lambda _m: None)
    argv = ssh_argv(tmp_path, store, "run-1", ["ls", "-l"])
    assert argv[1:] == ["-F", str(ssh_config.config_path(tmp_path)), "--", "exp1", "ls", "-l"]
    ssh_config.add_include(tmp_path)
    assert ssh_argv(tmp_path, store, "run-1", [])[1:] == ["--", "exp1"]
