"""Twin fixtures: one in-process TwinServer for the session, and the real `openstack` CLI against it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from twin_helpers import admin, run_openstack

from chameleon_provision.twin.server import TwinServer


@pytest.fixture(scope="session")
def twin() -> Iterator[TwinServer]:
    with TwinServer(port=0) as server:
        yield server


@pytest.fixture
def fresh_twin(twin: TwinServer) -> TwinServer:
    """The session twin, reset to its start-up state."""
    admin(twin, "POST", "reset")
    return twin


@pytest.fixture
def openstack(twin: TwinServer) -> Callable[..., tuple[int, str, str]]:
    """`openstack(*args, site="CHI@UC", env=None, fmt=True)` -> (rc, stdout, stderr)."""
    def run(*args: str, site: str = "CHI@UC", env: dict[str, str] | None = None, fmt: bool = True,
            stdin: str | None = None) -> tuple[int, str, str]:
        return run_openstack(env if env is not None else twin.env(site), *args, fmt=fmt, stdin=stdin)
    return run
