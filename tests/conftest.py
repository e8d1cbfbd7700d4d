"""Shared fixtures: every test runs with a private state dir and HOME, and no real credentials or AI key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["fake_llm"]

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("home")
    for name in list(os.environ):
        if name.startswith(("OS_", "OPENAI_", "PROVISION_", "CHAMELEON_", "CHI_")):
            monkeypatch.delenv(name, raising=False)
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PROVISION_STATE_DIR", str(home / "state"))
    monkeypatch.setenv("PROVISION_ENV_FILE", str(home / "no.env"))
    return home


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not present")
    return SHARED
