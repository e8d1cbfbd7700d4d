"""state.ssh_config: our Host blocks file and the one Include line in the user's ~/.ssh/config."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from chameleon_provision.state import ssh_config
from chameleon_provision.state.ssh_config import HostEntry


def entry(state: Path, run_id: str, name: str, address: str, key: Path | None = None) -> HostEntry:
    return HostEntry(run_id, name, address, key, ssh_config.known_hosts_path(state, run_id))


def ssh_g(config: Path, host: str) -> dict[str, str]:
    """What the real ssh makes of `host` with `config` as its user config (`ssh -G`)."""
    ssh = shutil.which("ssh")
    if ssh is None:
        pytest.skip("no ssh client installed")
    out = subprocess.run([ssh, "-G", "-F", str(config), "--", host], capture_output=True, text=True, check=True,
                         timeout=10).stdout
    settings: dict[str, str] = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        settings.setdefault(key, value)
    return settings


def test_two_runs_get_two_blocks_and_ssh_resolves_each(tmp_path: Path) -> None:
    state = tmp_path / "my state"  # a space in the path must survive quoting
    key = state / "keys" / "id_ed25519_abc"
    ssh_config.add_host(state, entry(state, "run-1", "prov-a-run-1", "192.5.87.10", key))
    ours, alias = ssh_config.add_host(state, entry(state, "run-2", "prov-b-run-2", "192.5.87.11"))
    assert alias == "prov-b-run-2"
    assert set(ssh_config.blocks(ours.read_text())) == {"run-1", "run-2"}
    assert ours.stat().st_mode & 0o777 == 0o600
    first, second = ssh_g(ours, "prov-a-run-1"), ssh_g(ours, "prov-b-run-2")
    assert first["hostname"] == "192.5.87.10" and first["user"] == "cc"
    assert first["identityfile"] == str(key) and first["identitiesonly"] == "yes"
    assert first["userknownhostsfile"] == str(ssh_config.known_hosts_path(state, "run-1"))
    assert first["stricthostkeychecking"] == "accept-new"
    assert second["hostname"] == "192.5.87.11" and second["identitiesonly"] == "no"  # the user's own key


def test_a_run_written_again_is_replaced_not_repeated(tmp_path: Path) -> None:
    ssh_config.add_host(tmp_path, entry(tmp_path, "run-1", "prov-a", "192.5.87.10"))
    ours, alias = ssh_config.add_host(tmp_path, entry(tmp_path, "run-1", "prov-a", "192.5.87.99"))
    text = ours.read_text()
    assert alias == "prov-a" and text.count("Host prov-a") == 1 and "192.5.87.99" in text and "192.5.87.10" not in text


def test_a_second_live_run_under_the_same_name_gets_its_own_alias(tmp_path: Path) -> None:
    ssh_config.add_host(tmp_path, entry(tmp_path, "run-1", "exp", "192.5.87.10"))
    ours, alias = ssh_config.add_host(tmp_path, entry(tmp_path, "run-2", "exp", "192.5.87.11"))
    assert alias == "exp-run-2" and ssh_config.host_of(tmp_path, "run-2") == "exp-run-2"
    assert ssh_g(ours, "exp")["hostname"] == "192.5.87.10" and ssh_g(ours, "exp-run-2")["hostname"] == "192.5.87.11"
    ssh_config.remove_host(tmp_path, "run-1")  # once the first is gone, the name is free for the next run
    assert ssh_config.add_host(tmp_path, entry(tmp_path, "run-3", "exp", "192.5.87.12"))[1] == "exp"


def test_removal_drops_only_that_block_and_its_known_hosts(tmp_path: Path) -> None:
    for n in (1, 2):
        ssh_config.add_host(tmp_path, entry(tmp_path, f"run-{n}", f"prov-{n}", f"10.0.0.{n}"))
    known = ssh_config.known_hosts_path(tmp_path, "run-1")
    known.write_text("10.0.0.1 ssh-ed25519 AAAA\n")
    assert ssh_config.remove_host(tmp_path, "run-1") is True
    assert ssh_config.host_of(tmp_path, "run-1") is None and ssh_config.host_of(tmp_path, "run-2") == "prov-2"
    assert not known.exists()
    assert ssh_config.remove_host(tmp_path, "run-1") is False  # twice is harmless


def test_parallel_writers_lose_no_block(tmp_path: Path) -> None:
    threads = [threading.Thread(target=ssh_config.add_host,
                                args=(tmp_path, entry(tmp_path, f"run-{n}", f"prov-{n}", f"10.0.0.{n}")))
               for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ssh_config.blocks(ssh_config.config_path(tmp_path).read_text())) == 12
    assert [p.name for p in ssh_config.ssh_dir(tmp_path).iterdir() if p.name.endswith(".tmp")] == []


def test_include_goes_on_top_once_and_keeps_the_file_and_its_mode(tmp_path: Path) -> None:
    state, user = tmp_path / "state", tmp_path / "home" / ".ssh" / "config"
    user.parent.mkdir(parents=True)
    user.write_text("Host work\n    User me\n")
    user.chmod(0o644)
    assert ssh_config.has_include(state, user) is False
    assert ssh_config.add_include(state, user) is True
    assert ssh_config.add_include(state, user) is False
    text = user.read_text()
    assert text.count("Include ") == 1 and text.index("Include ") < text.index("Host work")
    assert text.endswith("Host work\n    User me\n")
    assert user.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in user.parent.iterdir()] == ["config"]  # no temporary file left behind


def test_an_include_the_user_wrote_themselves_counts(tmp_path: Path) -> None:
    state, user = tmp_path / "state", tmp_path / ".ssh" / "config"
    user.parent.mkdir()
    user.write_text(f'  include  "{ssh_config.config_path(state)}" ~/.ssh/other\n')
    assert ssh_config.has_include(state, user) is True
    assert ssh_config.add_include(state, user) is False


def test_a_new_user_config_is_private_and_a_symlinked_one_is_written_through(tmp_path: Path) -> None:
    state = tmp_path / "state"
    fresh = tmp_path / "a" / ".ssh" / "config"
    ssh_config.add_include(state, fresh)
    assert fresh.stat().st_mode & 0o777 == 0o600 and fresh.parent.stat().st_mode & 0o777 == 0o700
    target = tmp_path / "dotfiles" / "ssh_config"
    target.parent.mkdir()
    target.write_text("Host x\n")
    link = tmp_path / "b" / ".ssh" / "config"
    link.parent.mkdir(parents=True)
    link.symlink_to(target)
    ssh_config.add_include(state, link)
    assert link.is_symlink() and "Include" in target.read_text()


def test_the_include_line_reaches_our_blocks_through_real_ssh(tmp_path: Path) -> None:
    state, user = tmp_path / "state", tmp_path / ".ssh" / "config"
    user.parent.mkdir()
    user.write_text("Host *\n    ServerAliveInterval 30\n")
    ssh_config.add_host(state, entry(state, "run-1", "prov-x", "192.5.87.42", state / "keys" / "k"))
    ssh_config.add_include(state, user)
    resolved = ssh_g(user, "prov-x")
    assert resolved["hostname"] == "192.5.87.42" and resolved["identityfile"] == str(state / "keys" / "k")
    assert resolved["serveraliveinterval"] == "30"  # the user's own settings still apply


def test_user_config_follows_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert ssh_config.user_config_path() == tmp_path / ".ssh" / "config"
    assert os.environ["HOME"] == str(tmp_path)
