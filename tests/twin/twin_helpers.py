"""Helpers for the twin tests: run the real `openstack` CLI against the twin, read its output, call /_twin."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from chameleon_provision.twin.server import TwinServer

NOISE = "Could not load 'reservation_host_unset'"  # blazarclient 4.6 entry-point bug, on every call


def openstack_executable() -> str:
    beside = Path(sys.executable).with_name("openstack")
    if beside.exists():
        return str(beside)
    found = shutil.which("openstack")
    if found is None:
        pytest.skip("the openstack CLI is not installed")
    return found


def parse_json(stdout: str) -> Any:
    """The CLI's JSON, skipping `lease create`'s "Created a new lease:" line."""
    starts = [i for i in (stdout.find("{"), stdout.find("[")) if i >= 0]
    return json.loads(stdout[min(starts):]) if starts else None


def decode_list(text: str) -> list[dict]:
    """Blazar CLI's string-encoded lists (objects pretty-printed and joined with newlines)."""
    decoder, items, index, text = json.JSONDecoder(), [], 0, text.strip()
    while index < len(text):
        item, index = decoder.raw_decode(text, index)
        items.append(item)
        while index < len(text) and text[index].isspace():
            index += 1
    return items


def run_openstack(env: dict[str, str], *args: str, fmt: bool = True, stdin: str | None = None,
                  timeout: float = 120) -> tuple[int, str, str]:
    """Run the real CLI in a clean environment (PATH, HOME and the twin's settings only)."""
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"), **env}
    argv = [openstack_executable(), *args, *(["-f", "json"] if fmt else [])]
    proc = subprocess.run(argv, env=clean, input=stdin, capture_output=True, text=True, timeout=timeout)
    stderr = "\n".join(line for line in proc.stderr.splitlines() if not line.startswith(NOISE))
    return proc.returncode, proc.stdout, stderr


def admin(twin: TwinServer, method: str, path: str, body: dict | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{twin.base_url}/_twin/{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")
