"""The one place the `openstack` CLI is run.

Every call is an argument list (never a shell string) with a timeout; stderr is captured and
turned into a typed error carrying the CLI's own error line. The runner is a Protocol: the
long-lived interactive process of `openstack_session.SessionRunner` (one token, no per-call
start-up cost) and the one-process-per-call `SubprocessRunner` here are interchangeable.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from chameleon_provision.errors import AuthenticationError, CloudUnreachableError, ConfigError, OpenStackError

log = logging.getLogger(__name__)

# blazarclient 4.6 names a class that does not exist in an entry point; stevedore logs this on
# every command. It never affects stdout or the exit code (reference/openstack-cli.md §1.6).
_NOISE = ("Could not load 'reservation_host_unset'",)
_ENV_PREFIXES = ("OS_",)
# The first of these words in a command names its action; names and values come after it.
_VERBS = frozenset({"list", "show", "issue", "create", "delete", "set", "unset", "add", "remove", "update",
                    "revoke", "rebuild", "reboot", "start", "stop", "extend"})
_KEEP_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")


class OpenStackRunner(Protocol):
    calls: int

    def run(self, args: Sequence[str], *, output: str = "json", timeout: float | None = None) -> Any:
        """Run one command; output 'json' parses -f json, 'lease' strips Blazar's prefix line, 'none' ignores stdout."""
        ...


def find_openstack() -> str:
    """The `openstack` next to this interpreter (the project's venv), else the one on PATH."""
    beside = Path(sys.executable).with_name("openstack")
    if beside.exists():
        return str(beside)
    found = shutil.which("openstack")
    if not found:
        raise ConfigError("the `openstack` command was not found",
                          hint="install the project with pip, which brings python-openstackclient")
    return found


def is_read_only(args: Sequence[str]) -> bool:
    """`… list`, `… show` and `token issue`: they change nothing, so they may run early or run again."""
    words = itertools.takewhile(lambda a: not a.startswith("-"), args)
    verb = next((w for w in words if w in _VERBS), None)
    return verb in ("list", "show") or list(args[:2]) == ["token", "issue"]


def command_label(args: Sequence[str]) -> str:
    """How errors name a command: its first words up to the first option (`token issue`, `server show X`)."""
    return " ".join(list(itertools.takewhile(lambda a: not a.startswith("-"), args))[:3])


def clean_stderr(stderr: str) -> str:
    return "\n".join(line for line in stderr.splitlines() if line.strip() and not line.startswith(_NOISE))


def error_line(stderr: str) -> str:
    """The CLI's own error line: the last meaningful stderr line."""
    lines = clean_stderr(stderr).splitlines()
    return lines[-1].strip() if lines else ""


def classify(command: str, stderr: str, returncode: int) -> OpenStackError:
    line = error_line(stderr) or f"exit status {returncode}"
    text = clean_stderr(stderr)
    if "requires authentication" in text or "HTTP 401" in text or "401: Client Error" in text:
        return AuthenticationError(f"Keystone refused the credentials: {line}", command=command, stderr=text,
                                   returncode=returncode,
                                   hint="check OS_USERNAME/OS_PASSWORD or the application credential")
    if "Unable to establish connection" in text or "Failed to establish a new connection" in text:
        return CloudUnreachableError(f"cannot reach the cloud: {line}", command=command, stderr=text,
                                     returncode=returncode, hint="check OS_AUTH_URL and your network")
    return OpenStackError(f"`openstack {command}` failed: {line}", command=command, stderr=text, returncode=returncode)


def parse_json_output(stdout: str, *, command: str) -> Any:
    """Parse -f json output, skipping any lines before the JSON (e.g. 'Created a new lease:')."""
    starts = [i for i in (stdout.find("{"), stdout.find("[")) if i >= 0]
    if not starts:
        if not stdout.strip():
            return None
        raise OpenStackError(f"`openstack {command}` printed no JSON", command=command)
    try:
        return json.loads(stdout[min(starts):])
    except json.JSONDecodeError as exc:
        raise OpenStackError(f"`openstack {command}` printed unreadable JSON: {exc}", command=command) from exc


def decode_listish(value: Any) -> list[Any]:
    """Blazar's CLI prints list fields as pretty-printed objects joined by newlines; make them lists again."""
    if isinstance(value, list):
        return value
    if not isinstance(value, str) or not value.strip():
        return []
    decoder, items, pos = json.JSONDecoder(), [], 0
    text = value.strip()
    while pos < len(text):
        obj, end = decoder.raw_decode(text, pos)
        items.append(obj)
        pos = end
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return items


def cli_environment(credentials: Mapping[str, str], base: Mapping[str, str] | None = None) -> dict[str, str]:
    """A clean environment: the process basics plus exactly the OS_* settings of the chosen site."""
    base = os.environ if base is None else base
    env = {k: v for k, v in base.items() if k in _KEEP_ENV}
    env.update({k: v for k, v in credentials.items() if k.startswith(_ENV_PREFIXES)})
    env["PYTHONWARNINGS"] = "ignore"
    return env


class SubprocessRunner:
    """One `openstack` process per call (about 1.5 s each, almost all of it imports, and a token each).

    The fallback runner: PROVISION_OPENSTACK_RUNNER=process, or where the interactive session
    (`openstack_session.SessionRunner`) cannot start.
    """

    def __init__(self, credentials: Mapping[str, str], *, executable: str | None = None,
                 timeout: float = 120.0) -> None:
        self.executable = executable or find_openstack()
        self.env = cli_environment(credentials)
        self.timeout = timeout
        self.calls = 0
        self.seconds = 0.0
        # One process at a time per site even when the plan reads ahead in threads: on a small
        # machine a handful of CLIs importing at once is slower, and each holds ~90 MB.
        self._lock = threading.Lock()

    def run(self, args: Sequence[str], *, output: str = "json", timeout: float | None = None) -> Any:
        argv = [self.executable, *args]
        if output in ("json", "lease"):
            argv += ["-f", "json"]
        command = command_label(args)
        log.debug("openstack %s", " ".join(args))
        with self._lock:
            started = time.monotonic()
            self.calls += 1
            try:
                proc = subprocess.run(argv, env=self.env, capture_output=True, text=True, check=False,
                                      timeout=timeout or self.timeout, stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired as exc:
                raise OpenStackError(f"`openstack {command}` did not finish within {exc.timeout:.0f} s",
                                     command=command) from exc
            finally:
                self.seconds += time.monotonic() - started
        if proc.returncode != 0:
            raise classify(command, proc.stderr, proc.returncode)
        return None if output == "none" else parse_json_output(proc.stdout, command=command)

    @property
    def processes(self) -> int:
        return self.calls

    def close(self) -> None:
        """Nothing outlives a call."""

    def __enter__(self) -> SubprocessRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
