"""The session protocol against a stand-in interactive CLI (no real `openstack`, so the fast lane)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_openstack import make_fake_openstack

from chameleon_provision.cloud.openstack_cli import is_read_only
from chameleon_provision.cloud.openstack_session import (
    SessionRunner,
    Unexpressible,
    encode_argument,
    encode_line,
    judge,
)
from chameleon_provision.errors import AuthenticationError, OpenStackError


@pytest.fixture
def fake(tmp_path: Path) -> str:
    return make_fake_openstack(tmp_path)


@pytest.fixture
def runner(fake: str) -> Iterator[SessionRunner]:
    with SessionRunner({"OS_AUTH_URL": "http://127.0.0.1:9/v3", "OS_PASSWORD": "pw-secret"}, executable=fake,
                       timeout=20) as r:
        yield r


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


def wait_gone(pid: int, seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def test_plain_tokens_go_bare_and_the_rest_survive_two_splits() -> None:
    assert encode_argument("--reservation") == "--reservation"
    assert encode_argument("min=1,max=1") == "min=1,max=1"
    tricky = 'resource_properties=["==","$node_type","x"] a>b|c;d \\x #y `z` $HOME'
    assert encode_argument(tricky).startswith("'\"")
    with pytest.raises(Unexpressible):
        encode_argument("it's")
    with pytest.raises(Unexpressible):
        encode_line(["a", "two\nlines"])


def test_read_only_commands_are_the_ones_run_again() -> None:
    assert is_read_only(["server", "show", "x"]) and is_read_only(["reservation", "allocation", "list", "host"])
    assert is_read_only(["token", "issue", "-c", "expires"])
    assert not is_read_only(["server", "create", "--flavor", "baremetal", "list"])
    assert not is_read_only(["reservation", "lease", "delete", "show"])  # a name is not a verb


def test_success_comes_from_the_log_not_from_stderr() -> None:
    warning = "2026-01-01 10:00:00.123 42 WARNING keystoneauth.discover [  p] Failed to discover\n"
    assert not judge("[]", "Failed to discover available identity versions", warning).failed
    error = "2026-01-01 10:00:00.123 42 ERROR openstack [  p] No Server found for x\n"
    reply = judge("", "No Server found for x\n", error)
    assert reply.failed and reply.returncode == 1
    usage = "usage: image list [-h]\nimage list: error: unrecognized arguments: --bogus\n"
    assert judge("", usage, "2026-01-01 10:00:00.123 42 ERROR openstack [  p] \n").returncode == 2
    unknown = judge("openstack: 'x y' is not an openstack command.\nDid you mean one of these?\n", "", "")
    assert unknown.failed and unknown.returncode == 2 and "is not an openstack command" in unknown.stderr


def test_each_command_gets_exactly_its_own_output(runner: SessionRunner) -> None:
    tricky = ['a>b|c;d \\x #y $HOME `z`', "", '["==","$node_type","gpu"]', "2026-11-23 10:00", "ünï"]
    assert runner.run(["echo", *tricky]) == tricky
    assert runner.run(["warn"]) == {"warned": True}  # a warning on stderr is not a failure
    assert runner.run(["quiet"]) is None  # a command that prints nothing
    assert runner.run(["nonl"]) == {"a": 1}  # output without a final newline
    assert runner.run(["echo", "after"]) == ["after"]
    assert runner.calls == 5 and runner.started == 1 and runner.processes == 1


def test_a_failing_command_between_two_good_ones(runner: SessionRunner) -> None:
    assert runner.run(["echo", "one"]) == ["one"]
    with pytest.raises(OpenStackError) as info:
        runner.run(["fail", "now"])
    assert info.value.message == "`openstack fail now` failed: ERROR: boom"
    assert info.value.returncode == 1 and info.value.stderr == "ERROR: boom"
    assert runner.run(["echo", "two"]) == ["two"]
    with pytest.raises(AuthenticationError):
        runner.run(["auth-fail"])
    with pytest.raises(OpenStackError, match="is not an openstack command") as unknown:
        runner.run(["no-such", "command"])
    assert unknown.value.returncode == 2
    assert runner.started == 1  # failures do not cost a new process


def test_a_hung_command_times_out_and_the_next_one_gets_a_new_process(runner: SessionRunner) -> None:
    first = runner.run(["pid"])["pid"]
    started = time.monotonic()
    with pytest.raises(OpenStackError, match="did not finish within 1 s"):
        runner.run(["hang"], timeout=1)
    assert time.monotonic() - started < 5
    assert wait_gone(first)
    second = runner.run(["pid"])["pid"]
    assert second != first and runner.started == 2


def test_a_read_only_command_is_run_again_when_the_process_dies_under_it(runner: SessionRunner,
                                                                          tmp_path: Path) -> None:
    first = runner.run(["pid"])["pid"]
    assert runner.run(["die-once", "list", str(tmp_path / "flag")]) == {"survived": True}
    assert wait_gone(first) and runner.started == 2


def test_a_command_that_changes_things_is_not_run_again(runner: SessionRunner) -> None:
    first = runner.run(["pid"])["pid"]
    with pytest.raises(OpenStackError, match="cut short") as info:
        runner.run(["die", "create"], output="none")
    assert "may or may not have reached the cloud" in (info.value.hint or "")
    assert wait_gone(first)
    assert runner.run(["echo", "again"]) == ["again"] and runner.started == 2


def test_a_process_killed_between_commands_is_replaced(runner: SessionRunner) -> None:
    first = runner.run(["pid"])["pid"]
    os.kill(first, 9)
    assert wait_gone(first)
    assert runner.run(["pid"])["pid"] != first


def test_secrets_stay_out_of_the_command_line(runner: SessionRunner) -> None:
    pid = runner.run(["pid"])["pid"]
    assert runner.pid == pid
    cmdline = [part for part in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if part]
    assert not any(b"pw-secret" in part for part in cmdline)
    assert cmdline[-1].startswith(b"--log-file=/dev/fd/") and not cmdline[-2].startswith(b"-")
    assert b"OS_PASSWORD=pw-secret" in Path(f"/proc/{pid}/environ").read_bytes()  # readable by its owner only
    assert Path(f"/proc/{pid}/environ").stat().st_mode & 0o077 == 0


def test_close_ends_the_process(fake: str) -> None:
    runner = SessionRunner({}, executable=fake, timeout=20)
    pid = runner.run(["pid"])["pid"]
    runner.close()
    assert wait_gone(pid, 2)
    runner.close()  # twice is harmless


def test_a_session_that_cannot_start_falls_back_to_one_process_per_command(
        fake: str, caplog: pytest.LogCaptureFixture) -> None:
    with SessionRunner({}, executable=fake, timeout=20) as runner:
        runner.env["FAKE_OPENSTACK"] = "batch-only"  # this CLI refuses interactive mode
        assert runner.run(["echo", "a b"]) == ["a b"]
        with pytest.raises(OpenStackError, match="ERROR: boom"):
            runner.run(["fail"])
        assert runner.run(["echo", "c"]) == ["c"]
        assert runner.fallback is not None and "interactive mode is not available" in runner.fallback_reason
        assert runner.started == 1 and runner.processes == 4  # the failed start, then three commands
    assert "could not start" in caplog.text


def test_an_argument_the_line_cannot_carry_runs_as_its_own_process(runner: SessionRunner) -> None:
    assert runner.run(["echo", "it's"]) == ["it's"]
    assert runner.processes == 1 and runner.started == 0
    assert runner.run(["echo", "x"]) == ["x"] and runner.started == 1


def test_threads_share_one_session(runner: SessionRunner) -> None:
    results: dict[int, object] = {}

    def work(i: int) -> None:
        results[i] = runner.run(["echo", str(i)])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: [str(i)] for i in range(6)} and runner.started == 1


def test_close_cuts_off_a_running_command_and_nothing_starts_after_it(fake: str) -> None:
    runner = SessionRunner({}, executable=fake, timeout=60)
    pid = runner.run(["pid"])["pid"]
    errors: list[OpenStackError] = []

    def hang() -> None:
        try:
            runner.run(["hang", "list"])  # read-only: a death would normally be retried
        except OpenStackError as exc:
            errors.append(exc)

    worker = threading.Thread(target=hang)
    worker.start()
    time.sleep(0.3)
    runner.close()
    worker.join(timeout=10)
    assert not worker.is_alive() and len(errors) == 1 and "closed" in errors[0].message
    assert wait_gone(pid) and runner.started == 1 and runner.pid is None
