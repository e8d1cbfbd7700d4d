"""`provision twin env` and `provision twin serve`, through the installed `provision` script."""

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

import pytest


def provision_executable() -> str:
    beside = Path(sys.executable).with_name("provision")
    found = str(beside) if beside.exists() else shutil.which("provision")
    if found is None:
        pytest.skip("the provision script is not installed")
    return found


def test_env_prints_an_openrc_that_bash_can_eval() -> None:
    script = (f'eval "$({provision_executable()} twin env --port 9123 --site CHI@TACC)"; '
              'env | grep -E "^(OS_|CHAMELEON_|PROVISION_)" | sort')
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True,
                         env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}).stdout
    env = dict(line.split("=", 1) for line in out.splitlines())
    assert env["OS_AUTH_URL"] == "http://127.0.0.1:9123/tacc/identity/v3"
    assert env["OS_REGION_NAME"] == "CHI@TACC" and env["OS_AUTH_TYPE"] == "v3password"
    assert env["OS_USERNAME"] == "twin-user" and env["OS_PROJECT_NAME"] == "CHI-000000"
    assert env["OS_USER_DOMAIN_NAME"] == env["OS_PROJECT_DOMAIN_NAME"] == "Default"
    assert env["OS_IDENTITY_API_VERSION"] == "3" and env["OS_INTERFACE"] == "public"
    assert env["CHAMELEON_API_URL"] == "http://127.0.0.1:9123/api"
    assert env["PROVISION_SITE_AUTH_URLS"] == ("CHI@UC=http://127.0.0.1:9123/uc/identity/v3,"
                                               "CHI@TACC=http://127.0.0.1:9123/tacc/identity/v3")


def test_env_quotes_values_and_offers_the_application_credential() -> None:
    proc = subprocess.run([provision_executable(), "twin", "env", "--port", "9123", "--auth", "appcred"],
                          capture_output=True, text=True, check=True)
    words = [shlex.split(line) for line in proc.stdout.splitlines()]
    assert all(len(w) == 2 and w[0] == "export" for w in words)
    env = dict(w[1].split("=", 1) for w in words)
    assert env["OS_AUTH_TYPE"] == "v3applicationcredential" and env["OS_REGION_NAME"] == "CHI@UC"
    assert env["OS_APPLICATION_CREDENTIAL_SECRET"] and env["OS_APPLICATION_CREDENTIAL_ID"]
    assert "OS_USERNAME" not in env


def test_env_unknown_site_is_a_one_line_error() -> None:
    proc = subprocess.run([provision_executable(), "twin", "env", "--site", "CHI@NOWHERE"],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == ["Error: unknown site 'CHI@NOWHERE'; the twin has CHI@UC, CHI@TACC"]


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_serve_until_a_signal_then_exit_cleanly(stop_signal: signal.Signals) -> None:
    proc = subprocess.Popen([provision_executable(), "twin", "serve", "--port", "0", "--speed", "120"],
                            stderr=subprocess.PIPE, text=True)
    try:
        banner = proc.stderr.readline()
        hint = proc.stderr.readline()
        assert "listening on http://127.0.0.1:" in banner and "speed 120x" in banner
        port = int(banner.split("http://127.0.0.1:")[1].split()[0])
        assert f'eval "$(provision twin env --port {port})"' in hint
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
