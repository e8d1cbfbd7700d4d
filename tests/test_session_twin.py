"""Both runners drive the real `openstack` CLI against the twin; the session keeps one process and one token.

The twin logs every request, so each test can count `POST …/auth/tokens` per site: one per process
for the one-process-per-call runner, one per session process for the session runner.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from chameleon_provision.cloud.openstack_cli import SubprocessRunner
from chameleon_provision.cloud.openstack_session import SessionRunner
from chameleon_provision.cloud.operations import Cloud
from chameleon_provision.errors import AuthenticationError, CloudUnreachableError, OpenStackError
from chameleon_twin.server import TwinServer

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[1]
GPU_REPO = str(ROOT / "examples" / "pytorch-gpu-24gb")
CPU_REPO = str(ROOT / "examples" / "pandas-sklearn")
RUNNERS = {"session": SessionRunner, "process": SubprocessRunner}


class RequestLog(io.StringIO):
    """The twin's one-line-per-request log, kept in memory."""

    def tokens(self, site_uid: str = "uc") -> int:
        return len(re.findall(rf"^POST /{site_uid}/identity/v3/auth/tokens -> 201", self.getvalue(), re.MULTILINE))


@pytest.fixture(scope="module")
def request_log() -> RequestLog:
    return RequestLog()


@pytest.fixture(scope="module")
def twin(request_log: RequestLog) -> Iterator[TwinServer]:
    with TwinServer(port=0, log=request_log) as server:
        yield server


def creds(twin: TwinServer, site: str = "CHI@UC", **overrides: str) -> dict[str, str]:
    return {k: v for k, v in twin.env(site).items() if k.startswith("OS_")} | overrides


def openstack_processes(marker: str) -> list[int]:
    """Live `openstack` processes whose environment names `marker` (a twin's unique address)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"openstack" in cmdline and marker.encode() in environ and state != "Z":
            pids.append(int(entry.name))
    return pids


def outcome(runner: Any, args: list[str], output: str = "json") -> tuple[str, str, int | None]:
    try:
        runner.run(args, output=output)
    except OpenStackError as exc:
        return type(exc).__name__, exc.message, exc.returncode
    return "ok", "", 0


@pytest.mark.parametrize("kind", RUNNERS)
def test_a_failing_command_between_two_good_ones(twin: TwinServer, kind: str) -> None:
    with RUNNERS[kind](creds(twin), timeout=120) as runner:
        cloud = Cloud(runner)
        assert {i.name for i in cloud.images()} >= {"CC-Ubuntu22.04"}
        assert outcome(runner, ["server", "show", "no-such-server"]) == (
            "OpenStackError", "`openstack server show no-such-server` failed: No Server found for no-such-server", 1)
        assert outcome(runner, ["reservation", "lease", "delete", "no-such-lease"], "none") == (
            "OpenStackError", "`openstack reservation lease delete` failed: Unable to find resource with name "
                              "'no-such-lease'", 1)
        assert len(cloud.hosts()) > 0


@pytest.mark.parametrize("kind", RUNNERS)
def test_refused_credentials_and_an_unreachable_cloud_keep_their_types(twin: TwinServer, kind: str) -> None:
    token = ["token", "issue", "-c", "expires"]
    with RUNNERS[kind](creds(twin, OS_PASSWORD="wrong"), timeout=120) as runner:
        with pytest.raises(AuthenticationError) as refused:
            runner.run(token)
        assert refused.value.message.startswith("Keystone refused the credentials: The request you have made "
                                                "requires authentication. (HTTP 401)")
        with pytest.raises(AuthenticationError, match=r"Keystone refused the credentials: .*\(HTTP 401\)"):
            Cloud(runner).token_issue()  # a refusal keeps its own line: service, status and what to fix
    with RUNNERS[kind](creds(twin, OS_AUTH_URL="http://127.0.0.1:9/v3"), timeout=120) as runner, \
            pytest.raises(CloudUnreachableError, match="cannot reach the cloud: Unable to establish connection"):
        runner.run(token)


@pytest.mark.parametrize("kind", RUNNERS)
def test_commands_that_print_nothing_and_arguments_that_need_quoting(twin: TwinServer, kind: str,
                                                                     tmp_path: Path) -> None:
    key = tmp_path / "id.pub"
    key.write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl x\n")
    tricky = f'{kind} a>b|c;d \\x #y $HOME `id` "q" ünï'
    with RUNNERS[kind](creds(twin), timeout=120) as runner:
        cloud = Cloud(runner)
        cloud.keypair_create(f"quiet-{kind}", str(key))
        assert runner.run(["keypair", "delete", f"quiet-{kind}"], output="none") is None  # prints nothing
        fip = cloud.floating_ip_create("public", tricky)
        assert fip.description == tricky
        assert [f.description for f in cloud.floating_ips() if f.id == fip.id] == [tricky]
        cloud.floating_ip_delete(fip.id)
        assert f"quiet-{kind}" not in {k.name for k in cloud.keypairs()}


def test_one_process_and_one_token_for_many_commands(twin: TwinServer, request_log: RequestLog) -> None:
    before = request_log.tokens()
    with SessionRunner(creds(twin), timeout=120) as runner:
        cloud = Cloud(runner)
        for _ in range(3):
            cloud.token_issue()
            cloud.hosts()
            cloud.images()
        pid = runner.pid
        assert pid is not None and openstack_processes(twin.base_url) == [pid]
    assert (runner.calls, runner.processes, request_log.tokens() - before) == (9, 1, 1)
    before = request_log.tokens()
    with SubprocessRunner(creds(twin), timeout=120) as per_call:
        Cloud(per_call).token_issue()
        Cloud(per_call).images()
    assert request_log.tokens() - before == 2


def test_the_token_never_reaches_a_pipe_and_secrets_stay_out_of_argv(twin: TwinServer) -> None:
    with SessionRunner(creds(twin), timeout=120) as runner:
        data = Cloud(runner).token_issue()
        assert set(data) == {"expires", "project_id", "user_id"}  # no `id`: the token is not printed
        cmdline = Path(f"/proc/{runner.pid}/cmdline").read_bytes()
        assert b"twin-password" not in cmdline and b"OS_PASSWORD" not in cmdline
        assert cmdline.rstrip(b"\0").split(b"\0")[-1].startswith(b"--log-file=/dev/fd/")  # its only argument


def test_a_hung_command_times_out_and_a_new_process_carries_on(twin: TwinServer, request_log: RequestLog,
                                                               tmp_path: Path) -> None:
    fifo = tmp_path / "never-written"
    os.mkfifo(fifo)  # the CLI blocks opening it: a real command that never finishes
    before = request_log.tokens()
    with SessionRunner(creds(twin), timeout=120) as runner:
        Cloud(runner).token_issue()
        first = runner.pid
        started = time.monotonic()
        with pytest.raises(OpenStackError, match="did not finish within 3 s"):
            runner.run(["keypair", "create", "--public-key", str(fifo), "hung"], timeout=3)
        assert time.monotonic() - started < 10
        assert first is not None and first not in openstack_processes(twin.base_url)
        assert len(Cloud(runner).hosts()) > 0
        assert runner.pid != first and runner.started == 2
    assert request_log.tokens() - before == 2
    assert openstack_processes(twin.base_url) == []


def test_the_session_is_killed_mid_run_and_the_run_recovers(twin: TwinServer, request_log: RequestLog,
                                                             tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **twin.env("CHI@UC"),
           "PROVISION_STATE_DIR": str(tmp_path / "state"), "PROVISION_POLL_SECONDS": "0.3"}
    before = request_log.tokens()
    run = subprocess.Popen([sys.executable, str(ROOT / "provision.py"), CPU_REPO, "--yes", "--json"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed: list[int] = []

    def kill_while_the_server_builds() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and run.poll() is None:
            state = requests.get(f"{twin.base_url}/_twin/state", timeout=10).json()
            if any(s["status"] == "BUILD" for site in state["sites"].values() for s in site["servers"]):
                for pid in openstack_processes(twin.base_url):
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_while_the_server_builds)
    killer.start()
    out, err = run.communicate(timeout=300)
    killer.join()
    assert run.returncode == 0, err
    assert len(killed) == 1, "one session process for the one site"
    doc = json.loads(out)
    assert doc["server"]["status"] == "ACTIVE" and doc["floating_ip"]
    assert doc["stats"]["openstack_processes"] == 2  # the killed session and its replacement
    assert request_log.tokens() - before == 2
    assert openstack_processes(twin.base_url) == []  # nothing left running
    subprocess.run([sys.executable, str(ROOT / "provision.py"), "destroy", doc["run_id"], "--yes"], env=env,
                   capture_output=True, check=True, timeout=300)


def test_ctrl_c_leaves_no_process_behind(twin: TwinServer, tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **twin.env("CHI@UC"),
           "PROVISION_STATE_DIR": str(tmp_path / "state"), "PROVISION_POLL_SECONDS": "0.3"}
    run = subprocess.Popen([sys.executable, str(ROOT / "provision.py"), CPU_REPO, "--yes"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(
            site["servers"] for site in requests.get(f"{twin.base_url}/_twin/state", timeout=10).json()["sites"]
            .values()):
        time.sleep(0.1)
    run.send_signal(signal.SIGINT)  # what Ctrl+C sends to provision (its session has a group of its own)
    _, err = run.communicate(timeout=300)
    assert run.returncode == 130, err
    assert "removed after the failure: server" in err and "nothing was left behind" in err
    assert openstack_processes(twin.base_url) == []
    state = requests.get(f"{twin.base_url}/_twin/state", timeout=10).json()
    assert [s for site in state["sites"].values() for s in site["servers"]] == []


@pytest.mark.parametrize("kind", RUNNERS)
def test_plan_only_with_either_runner(twin: TwinServer, request_log: RequestLog, kind: str,
                                      tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **twin.env("CHI@UC"),
           "PROVISION_STATE_DIR": str(tmp_path / "state"), "PROVISION_OPENSTACK_RUNNER": kind}
    before = request_log.tokens()
    proc = subprocess.run([sys.executable, str(ROOT / "provision.py"), GPU_REPO, "--plan-only", "--json"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    stats = json.loads(proc.stdout)["stats"]
    calls = stats["openstack_calls"]
    expected = 1 if kind == "session" else calls
    assert stats["openstack_processes"] == expected and request_log.tokens() - before == expected


def test_a_plan_at_another_site_uses_one_process_and_one_token_per_site(twin: TwinServer, request_log: RequestLog,
                                                                          tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **twin.env("CHI@UC"),
           "PROVISION_STATE_DIR": str(tmp_path / "state")}
    before = {uid: request_log.tokens(uid) for uid in ("uc", "tacc")}
    proc = subprocess.run([sys.executable, str(ROOT / "provision.py"), str(ROOT / "tests/fixtures/repos/rocm_torch"),
                           "--plan-only", "--json"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["resource"]["site"] == "CHI@TACC"  # the cloud check ran at CHI@UC, the AMD nodes are at TACC
    assert doc["stats"]["openstack_processes"] == 2
    assert {uid: request_log.tokens(uid) - n for uid, n in before.items()} == {"uc": 1, "tacc": 1}


def test_the_real_cli_falls_back_to_one_process_per_command_when_the_session_cannot_start(
        twin: TwinServer, request_log: RequestLog, caplog: pytest.LogCaptureFixture) -> None:
    before = request_log.tokens()
    with SessionRunner(creds(twin), timeout=120, start_timeout=0.01) as runner:  # no CLI starts that fast
        cloud = Cloud(runner)
        assert cloud.token_issue()["project_id"]
        assert outcome(runner, ["server", "show", "no-such-server"])[1].endswith("No Server found for no-such-server")
        assert len(cloud.hosts()) > 0
        assert runner.fallback is not None and runner.started == 1 and runner.processes == 4
    assert request_log.tokens() - before == 3
    assert "could not start" in caplog.text and openstack_processes(twin.base_url) == []
