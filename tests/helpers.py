"""Helpers shared by the tests: call the twin's admin API and run the real `openstack` CLI against it."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Callable
from typing import Any

from chameleon_provision.cloud.openstack_cli import clean_stderr, cli_environment, find_openstack, parse_json_output
from chameleon_twin.server import TwinServer

RunMain = Callable[..., tuple[int, str, str]]  # the `run_main` fixture: (exit code, stdout, stderr)
Openstack = Callable[..., tuple[int, str, str]]  # the `openstack` fixture: (exit code, stdout, stderr)


def admin(twin: TwinServer, method: str, path: str, body: dict | None = None) -> Any:
    """Call `/_twin/<path>` over HTTP; an error status raises `urllib.error.HTTPError`."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{twin.base_url}/_twin/{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def run_openstack(env: dict[str, str], *args: str, fmt: bool = True, stdin: str | None = None,
                  timeout: float = 120) -> tuple[int, str, str]:
    """Run the real CLI with the process basics plus `env`'s OS_* settings, as `provision` does."""
    argv = [find_openstack(), *args, *(["-f", "json"] if fmt else [])]
    proc = subprocess.run(argv, env=cli_environment(env), input=stdin, capture_output=True, text=True,
                          timeout=timeout)
    return proc.returncode, proc.stdout, clean_stderr(proc.stderr)


def ok(result: tuple[int, str, str]) -> Any:
    """The parsed JSON of a CLI run that must have succeeded (None for a line like "Deleted lease: ID")."""
    rc, out, err = result
    assert rc == 0, f"rc={rc}\nstdout={out}\nstderr={err}"
    return parse_json_output(out, command="(test)") if "{" in out or "[" in out else None
