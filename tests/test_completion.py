"""Shell completion (click's, for bash, zsh and fish): run ids from the state database, sites, profiles."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import RunMain

from chameleon_provision.state.store import StateStore


def complete(run_main: RunMain, monkeypatch: pytest.MonkeyPatch, words: str, shell: str = "bash") -> list[str]:
    monkeypatch.setenv("_PROVISION_COMPLETE", f"{shell}_complete")
    monkeypatch.setenv("COMP_WORDS", words)
    monkeypatch.setenv("COMP_CWORD", str(len(words.split(" ")) - 1))
    code, out, err = run_main(*words.split(" ")[1:])
    assert code == 0 and err == ""
    return out.splitlines()


def test_bash_completes_run_ids_from_the_state_database(run_main: RunMain, monkeypatch: pytest.MonkeyPatch) -> None:
    store = StateStore(Path(os.environ["PROVISION_STATE_DIR"]) / "runs.sqlite3")
    store.new_run("12031200-abcd", source="https://github.com/a/b", commit_sha=None, site="CHI@UC", mode="provision",
                  name="train")
    store.new_run("11020000-ffff", source="https://github.com/c/d", commit_sha=None, site="CHI@UC", mode="provision")
    assert sorted(complete(run_main, monkeypatch, "provision destroy ")) == ["plain,11020000-ffff",
                                                                            "plain,12031200-abcd"]
    assert complete(run_main, monkeypatch, "provision status 1203") == ["plain,12031200-abcd"]
    zsh = complete(run_main, monkeypatch, "provision resume 1203", shell="zsh")
    assert zsh == ["plain", "12031200-abcd", "started train"]  # zsh shows each id's status and name


def test_sites_and_profiles_complete_and_nothing_is_created(run_main: RunMain, monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    assert "plain,CHI@TACC" in complete(run_main, monkeypatch, "provision up ./repo --site CHI@")
    (tmp_path / "clouds.yaml").write_text("clouds:\n  uc: {region_name: CHI@UC}\n  tacc: {region_name: CHI@TACC}\n")
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "clouds.yaml"))
    assert complete(run_main, monkeypatch, "provision status --os-cloud t") == ["plain,tacc"]
    assert not (Path(os.environ["PROVISION_STATE_DIR"]) / "runs.sqlite3").exists()  # a Tab press made no database
