"""state.run_log and cloud.command_log: every openstack command, its time and status, in the run's log."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from chameleon_provision.cloud.command_log import LoggedRunner, request_ids, shown
from chameleon_provision.cloud.operations import Cloud
from chameleon_provision.config import load_settings
from chameleon_provision.console import Streams
from chameleon_provision.errors import OpenStackError
from chameleon_provision.pipeline.session import Session
from chameleon_provision.state.run_log import RunLog, log_path

REQ = "req-0a1b2c3d-0000-4000-8000-123456789abc"


class Runner:
    """A runner answering from a table; "fail" commands raise like the CLI's errors do."""

    calls = 0

    def run(self, args: Sequence[str], *, output: str = "json", timeout: float | None = None) -> Any:
        self.calls += 1
        if args[0] == "fail":
            raise OpenStackError("`openstack server show` failed: No server with a name or ID of 'x' exists. "
                                 f"(HTTP 404) (Request-ID: {REQ})", command="server show", returncode=1)
        return {"id": "S1"}


def test_events_before_the_file_opens_are_written_first_then_appended(tmp_path: Path) -> None:
    log = RunLog()
    log.event("openstack", "token issue", exit=0)
    path = log.open(log_path(tmp_path, "run-1"))
    log.event("decision", "lease", hours=24, reason="no runtime stated: one day")
    lines = path.read_text().splitlines()
    assert [line.split()[1:3] for line in lines] == [["openstack", "token"], ["decision", "lease"]]
    assert lines[1].endswith('hours=24 reason="no runtime stated: one day"')
    later = RunLog()
    later.open(path)
    later.event("destroy", "again")  # a later command of the same run appends
    assert len(path.read_text().splitlines()) == 3


def test_each_command_is_logged_with_duration_status_and_request_id(tmp_path: Path) -> None:
    log = RunLog()
    path = log.open(tmp_path / "run.log")
    runner = LoggedRunner(Runner(), log, "CHI@UC")
    runner.run(["server", "show", "S1"])
    with pytest.raises(OpenStackError):
        runner.run(["fail", "x"])
    ok_line, failed_line = path.read_text().splitlines()
    assert "openstack server show S1 site=CHI@UC seconds=" in ok_line and ok_line.endswith("exit=0")
    assert "exit=1" in failed_line and f"request={REQ}" in failed_line and "error=" in failed_line
    assert runner.calls == 2  # everything else is the wrapped runner's


def test_secret_values_never_reach_the_line() -> None:
    assert shown(["x", "--password", "hunter2", "--name", "my lease"]) == "x --password '****' --name 'my lease'"
    assert request_ids(f"a {REQ} b {REQ}") == REQ and request_ids("none here") is None


def test_minus_v_mirrors_the_log_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = load_settings({}, {"PROVISION_STATE_DIR": str(tmp_path), "OS_AUTH_URL": "http://127.0.0.1:1/v3",
                                  "OS_REGION_NAME": "CHI@UC"})
    for verbosity, mirrored in ((0, False), (1, True)):
        with Session(settings, Streams(verbosity=verbosity), runner_factory=lambda c, t: Runner()) as session:
            assert isinstance(session.cloud("CHI@UC"), Cloud)
            session.cloud("CHI@UC").server_show("S1")
            session.streams.progress("lease [bold]x[/bold] ACTIVE")
            session.log.open(tmp_path / f"v{verbosity}.log")
        err = capsys.readouterr().err
        assert ("openstack server show S1" in err) is mirrored
        assert err.count("lease x ACTIVE") + err.count("lease [bold]x[/bold] ACTIVE") <= 1  # never twice
        text = (tmp_path / f"v{verbosity}.log").read_text()
        assert "openstack server show S1" in text and "progress lease x ACTIVE" in text
