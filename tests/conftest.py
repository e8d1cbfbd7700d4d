"""Shared fixtures: every test runs with a private state dir and HOME, and no real credentials or AI key.

Tests that need the Chameleon twin take `twin`: one in-process server for the whole session, reset
to its start-up state before each test, so one test's leases, faults or clock jumps never reach the next.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import Openstack, RunMain, admin, run_openstack

import provision
from chameleon_twin.server import TwinServer

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


@pytest.fixture(scope="session")
def twin_server() -> Iterator[TwinServer]:
    """The one twin of the session; tests take `twin`, which resets it first."""
    with TwinServer(port=0) as server:
        yield server


@pytest.fixture
def twin(twin_server: TwinServer) -> TwinServer:
    """The session twin, reset (fresh sites, clock offset and faults cleared) through its admin API."""
    admin(twin_server, "POST", "reset")
    return twin_server


@pytest.fixture
def openstack(twin: TwinServer) -> Openstack:
    """`openstack(*args, site="CHI@UC", env=None, fmt=True, stdin=None)` -> (rc, stdout, stderr) on the twin."""
    def run(*args: str, site: str = "CHI@UC", env: dict[str, str] | None = None, fmt: bool = True,
            stdin: str | None = None) -> tuple[int, str, str]:
        return run_openstack(env if env is not None else twin.env(site), *args, fmt=fmt, stdin=stdin)
    return run


@pytest.fixture
def run_main(capsys: pytest.CaptureFixture[str]) -> RunMain:
    """`run_main(*args)` runs `provision` in this process -> (exit code, stdout, stderr)."""
    def run(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as info:
            provision.main(list(args))
        out, err = capsys.readouterr()
        return int(info.value.code or 0), out, err
    return run


@pytest.fixture
def cloud_env(twin: TwinServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment points at the twin's CHI@UC, with fast polls and no SSH wait."""
    env = twin.env("CHI@UC")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PROVISION_POLL_SECONDS", "0.3")
    monkeypatch.setenv("PROVISION_SSH_TIMEOUT", "0")
    return env


@pytest.fixture
def no_in_flight_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing is in flight in a fake cloud: an unfound interrupted create is not waited for."""
    monkeypatch.setattr("chameleon_provision.pipeline.teardown.IN_FLIGHT_GRACE", 0.0)
