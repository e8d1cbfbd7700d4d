"""`chameleon-twin env|serve`, through the installed scripts (and `provision twin`, which is the same group)."""

from __future__ import annotations

import http.client
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest
from click.testing import CliRunner

from chameleon_twin.cli import is_loopback, twin_group


def script(name: str) -> str:
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"the {name} script is not installed")
    return found


# The three ways to reach the twin's commands; each gives a function building the argv.
ENTRY_POINTS = {
    "chameleon-twin": lambda *args: [script("chameleon-twin"), *args],
    "provision twin": lambda *args: [script("provision"), "twin", *args],
    "python -m chameleon_twin": lambda *args: [sys.executable, "-m", "chameleon_twin", *args],
}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_env_prints_an_openrc_that_bash_can_eval(entry: str) -> None:
    command = shlex.join(ENTRY_POINTS[entry]("env", "--port", "9123", "--site", "CHI@TACC"))
    shell = f'eval "$({command})"; env | grep -E "^(OS_|CHAMELEON_|CHI_|PROVISION_)" | sort'
    out = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, check=True,
                         env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}).stdout
    env = dict(line.split("=", 1) for line in out.splitlines())
    assert env["OS_AUTH_URL"] == "http://127.0.0.1:9123/tacc/identity/v3"
    assert env["OS_REGION_NAME"] == "CHI@TACC" and env["OS_AUTH_TYPE"] == "v3password"
    assert env["OS_USERNAME"] == "twin-user" and env["OS_PROJECT_NAME"] == "CHI-000000"
    assert env["OS_USER_DOMAIN_NAME"] == env["OS_PROJECT_DOMAIN_NAME"] == "Default"
    assert env["OS_IDENTITY_API_VERSION"] == "3" and env["OS_INTERFACE"] == "public"
    assert env["CHAMELEON_API_URL"] == env["CHI_RESOURCE_API_URL"] == "http://127.0.0.1:9123/api"
    assert env["PROVISION_SITE_AUTH_URLS"] == ("CHI@UC=http://127.0.0.1:9123/uc/identity/v3,"
                                               "CHI@TACC=http://127.0.0.1:9123/tacc/identity/v3,"
                                               "CHI@NCAR=http://127.0.0.1:9123/ncar/identity/v3")


def test_env_quotes_values_and_offers_the_application_credential() -> None:
    proc = subprocess.run(ENTRY_POINTS["chameleon-twin"]("env", "--port", "9123", "--auth", "appcred"),
                          capture_output=True, text=True, check=True)
    words = [shlex.split(line) for line in proc.stdout.splitlines()]
    assert all(len(w) == 2 and w[0] == "export" for w in words)
    env = dict(w[1].split("=", 1) for w in words)
    assert env["OS_AUTH_TYPE"] == "v3applicationcredential" and env["OS_REGION_NAME"] == "CHI@UC"
    assert env["OS_APPLICATION_CREDENTIAL_SECRET"] and env["OS_APPLICATION_CREDENTIAL_ID"]
    assert "OS_USERNAME" not in env


@pytest.mark.parametrize("entry", ["chameleon-twin", "provision twin"])
def test_env_unknown_site_is_a_one_line_error(entry: str) -> None:
    proc = subprocess.run(ENTRY_POINTS[entry]("env", "--site", "CHI@NOWHERE"), capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        "Error: unknown site 'CHI@NOWHERE'; the twin has CHI@UC, CHI@TACC, CHI@NCAR"]


@pytest.mark.parametrize(("entry", "stop_signal"), [("chameleon-twin", signal.SIGTERM),
                                                    ("provision twin", signal.SIGINT)])
def test_serve_until_a_signal_then_exit_cleanly(entry: str, stop_signal: signal.Signals) -> None:
    proc = subprocess.Popen(ENTRY_POINTS[entry]("serve", "--port", "0", "--speed", "120"),
                            stderr=subprocess.PIPE, text=True)
    try:
        banner = proc.stderr.readline()
        hint = proc.stderr.readline()
        assert "listening on http://127.0.0.1:" in banner and "speed 120x" in banner
        port = int(banner.split("http://127.0.0.1:")[1].split()[0])
        assert f'eval "$(chameleon-twin env --port {port})"' in hint
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/uc/identity/v3")
        response = connection.getresponse()
        assert response.status == 200
        assert json.loads(response.read())["version"]["links"][0]["href"] == f"http://127.0.0.1:{port}/uc/identity/v3/"
        connection.close()
        assert "GET /uc/identity/v3 -> 200" in proc.stderr.readline()  # the request log
        proc.send_signal(stop_signal)
        assert proc.wait(timeout=15) == 0
        assert "stopped" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("LocalHost", True), ("0.0.0.0", False), ("", False), ("::", False), ("10.1.2.3", False),
    ("192.0.2.7", False), ("twin.example.org", False), ("::ffff:10.1.2.3", False),
])
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.fixture
def unbindable(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """TwinServer replaced by a stand-in that records its host and fails as a busy port would, unbound."""
    hosts: list[str] = []

    def stand_in(host: str, **_: object) -> NoReturn:
        hosts.append(host)
        raise OSError(98, "not bound in tests")

    monkeypatch.setattr("chameleon_twin.server.TwinServer", stand_in)
    return hosts


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.7", "::", "twin.example.org"])
def test_serve_refuses_a_non_loopback_host_before_binding(host: str, unbindable: list[str]) -> None:
    result = CliRunner().invoke(twin_group, ["serve", "--host", host, "--port", "0"])
    assert result.exit_code == 1 and unbindable == []
    assert result.output.splitlines() == [
        f"Error: --host {host} is not a loopback address and the /_twin admin API has no authentication; "
        "pass --allow-remote-admin to expose it anyway"]


@pytest.mark.parametrize(("args", "host"), [
    (["--host", "192.0.2.7", "--allow-remote-admin"], "192.0.2.7"),  # the explicit opt-in
    (["--host", "localhost"], "localhost"),
    (["--host", "::1"], "::1"),
    ([], "127.0.0.1"),
])
def test_serve_goes_on_to_bind_loopback_or_when_allowed(args: list[str], host: str, unbindable: list[str]) -> None:
    result = CliRunner().invoke(twin_group, ["serve", "--port", "0", *args])
    assert unbindable == [host]
    assert result.exit_code == 1 and "cannot listen on" in result.output  # the stand-in's OSError
