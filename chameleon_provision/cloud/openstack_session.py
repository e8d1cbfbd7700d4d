"""One long-lived `openstack` process per site: the CLI's interactive mode, driven over pipes.

Starting the CLI costs 1.4-2 s of imports and a new Keystone token; run in interactive mode (no
command on its command line), one process reads commands on standard input and keeps its token.
`SessionRunner` speaks to it like this (reference/openstack-cli.md §5):

* **Start.** `openstack --log-file=/dev/fd/N` with the site's `OS_*` settings in the environment
  (never on the command line) and standard input, output and error as pipes. The `--log-file`
  option is read by the CLI's own option parser; cmd2 also runs it once as a command, whose
  "not an openstack command" lines are thrown away with the rest of the start-up output. The log
  file is a pipe: its records carry a level name, which standard error does not.
* **One command** is one line, then a marker line `!sh -c "echo M; echo M >&2"` with a fresh
  marker M (a random per-process nonce and a sequence number). cmd2 runs the marker through the
  shell only after the command has finished, and the process writes unbuffered
  (`PYTHONUNBUFFERED=1`), so everything before M on standard output and on standard error is that
  command's, and nothing after it is. A command that prints nothing yields empty text.
* **Success.** Interactive mode never reports an exit status. cliff logs every failure of a
  command (an exception, a refused argument, an unknown command) as an ERROR record of the
  `openstack` logger, so a command failed exactly when such a record arrived in the log pipe
  before its marker. The error raised is then built from that command's standard error, like
  the one-process-per-call runner's: the same type and the CLI's own error line.
* **Time.** A command still unanswered at its deadline has its process group killed; the command
  fails as a timeout, and the next command starts a new process.
* **Death.** If the process ends while a command runs, a read-only command (`list`, `show`,
  `token issue`) is run again once in a new process; any other command fails, since whether it
  reached the cloud is unknown (the run's records find what it may have created).
* **Arguments** pass through a cliff quirk that splits and rejoins the line twice: plain tokens
  are sent bare, every other one as `'"…"'` with `\\` and `"` escaped. An argument holding a
  single quote or a line break cannot be written that way; that one command runs as its own
  process instead.

If the interactive process cannot be started at all (it exits, or never answers the first
marker), the runner says so once and runs every command of the site as its own process.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import re
import secrets
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

from chameleon_provision.cloud.openstack_cli import (
    SubprocessRunner,
    classify,
    cli_environment,
    command_label,
    find_openstack,
    is_read_only,
    parse_json_output,
)
from chameleon_provision.errors import OpenStackError

log = logging.getLogger(__name__)

_PLAIN = re.compile(r"[A-Za-z0-9_./:=,@+%-]+")
# _FileFormatter in osc_lib: "DATE TIME.MS PID LEVEL LOGGER [context] message"
_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \d+ (?P<level>[A-Z]+) (?P<logger>\S+) ")
_APP_LOGGER = "openstack"  # cliff's App logs every failed command under the program's name
_UNKNOWN_COMMAND = "is not an openstack command"
START_TIMEOUT = 90.0  # the CLI imports for 1.4-2 s; a loaded machine can take several times that
CLOSE_GRACE = 3.0


class SessionStartError(Exception):
    """The interactive process could not be brought up (not a cloud error: the fallback takes over)."""


class SessionDied(Exception):
    """The interactive process ended while a command was in flight."""


class Unexpressible(ValueError):
    """An argument that cliff's interactive line parsing cannot carry intact."""


def encode_argument(arg: str) -> str:
    """One argument as it must be written on an interactive line to arrive unchanged."""
    if _PLAIN.fullmatch(arg):
        return arg
    if any(c in arg for c in "'\n\r\0"):
        raise Unexpressible(arg)
    return "'\"" + arg.replace("\\", "\\\\").replace('"', '\\"') + "\"'"


def encode_line(argv: Sequence[str]) -> str:
    return " ".join(encode_argument(a) for a in argv)


@dataclass(frozen=True)
class Reply:
    """What one command wrote, and whether cliff logged it as failed."""

    stdout: str
    stderr: str
    failed: bool
    returncode: int


def judge(stdout: str, stderr: str, log_text: str) -> Reply:
    """Read one command's three streams into a Reply (see the module docstring, "Success")."""
    failed = any((m := _RECORD.match(line)) and m["level"] in ("ERROR", "CRITICAL") and m["logger"] == _APP_LOGGER
                 for line in log_text.splitlines())
    unknown = _UNKNOWN_COMMAND in stdout
    if unknown:  # cliff writes this one to standard output; the error line belongs with stderr
        stderr = "\n".join([stderr, *[line for line in stdout.splitlines() if _UNKNOWN_COMMAND in line]])
    usage = re.search(r"^\S.*: error: ", stderr, re.MULTILINE) is not None and "usage:" in stderr
    code = 2 if unknown or usage else 1
    return Reply(stdout, stderr, failed or unknown, code if failed or unknown else 0)


class _Process:
    """One interactive `openstack` process and the three pipes it writes to."""

    def __init__(self, executable: str, env: Mapping[str, str]) -> None:
        log_read, log_write = os.pipe()
        try:
            self.popen = subprocess.Popen(
                [executable, f"--log-file=/dev/fd/{log_write}"], env=dict(env), stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(log_write,),
                # Its own process group: Ctrl+C at the terminal reaches only `provision`, which can
                # then still use the session to clean up; a timeout kills the group (marker shells too).
                start_new_session=True)
        except OSError as exc:
            os.close(log_read)
            raise SessionStartError(f"cannot start {executable}: {exc.strerror or exc}") from exc
        finally:
            os.close(log_write)
        assert self.popen.stdin and self.popen.stdout and self.popen.stderr
        self.stdin: IO[bytes] = self.popen.stdin
        self.fds = {"out": self.popen.stdout.fileno(), "err": self.popen.stderr.fileno(), "log": log_read}
        self._log_file = log_read
        self.buffers = {name: bytearray() for name in self.fds}
        self.closed: set[str] = set()
        for fd in self.fds.values():
            os.set_blocking(fd, False)
        self.nonce = secrets.token_hex(6)
        self.seq = itertools.count(1)
        self.ready = False  # set once it has answered its first marker

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def exchange(self, line: str, deadline: float) -> tuple[str, str, str]:
        """Send one line (may be empty: a bare marker) and return its (stdout, stderr, log) text."""
        marker = f"__provision_{self.nonce}_{next(self.seq)}__"
        payload = (f"{line}\n" if line else "") + f'!sh -c "echo {marker}; echo {marker} >&2"\n'
        try:
            self.stdin.write(payload.encode())
            self.stdin.flush()
        except OSError as exc:  # BrokenPipeError: the process is gone
            raise SessionDied("its standard input is closed") from exc
        end = (marker + "\n").encode()
        found: dict[str, bytes] = {}
        with selectors.DefaultSelector() as selector:
            for name in ("out", "err", "log"):
                if name not in self.closed:
                    selector.register(self.fds[name], selectors.EVENT_READ, name)
            while len(found) < 2:
                for name in ("out", "err"):
                    if name not in found and (at := self.buffers[name].find(end)) >= 0:
                        found[name] = bytes(self.buffers[name][:at])
                        del self.buffers[name][:at + len(end)]
                if len(found) == 2:
                    break
                if {"out", "err"} & self.closed:
                    raise SessionDied(f"it exited with status {self.popen.wait()}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                for key, _ in selector.select(timeout=min(remaining, 1.0)):
                    if not self._read(key.data):
                        selector.unregister(key.fd)
        self._read("log")  # written before the marker's shell started, so already in the pipe
        log_text = bytes(self.buffers["log"]).decode(errors="replace")
        self.buffers["log"].clear()
        return found["out"].decode(errors="replace"), found["err"].decode(errors="replace"), log_text

    def _read(self, name: str) -> bool:
        """Move what is waiting on one pipe into its buffer; False at end of file."""
        if name in self.closed:
            return False
        while True:
            try:
                chunk = os.read(self.fds[name], 65536)
            except BlockingIOError:
                return True
            if not chunk:
                self.closed.add(name)
                return False
            self.buffers[name] += chunk

    def kill(self) -> None:
        self._signal(signal.SIGKILL)
        self._reap(CLOSE_GRACE)

    def close(self) -> None:
        """End input, then the process group: the CLI holds nothing worth a slow interpreter shutdown."""
        with contextlib.suppress(OSError):
            self.stdin.close()
        self._signal(signal.SIGTERM)
        if not self._reap(CLOSE_GRACE):
            self.kill()

    def _signal(self, signum: int) -> None:
        if self.popen.returncode is None:  # never signal a group whose leader was already reaped
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signum)

    def _reap(self, grace: float) -> bool:
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            return False
        for stream in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
        with contextlib.suppress(OSError):
            os.close(self._log_file)
        self.closed.update(self.fds)
        return True


class SessionRunner:
    """An `OpenStackRunner` keeping one interactive `openstack` process (one token) for a site."""

    def __init__(self, credentials: Mapping[str, str], *, executable: str | None = None, timeout: float = 180.0,
                 start_timeout: float = START_TIMEOUT) -> None:
        self.executable = executable or find_openstack()
        self.credentials = dict(credentials)
        self.env = cli_environment(credentials) | {"PYTHONUNBUFFERED": "1"}
        self.timeout = timeout
        self.start_timeout = start_timeout
        self.calls = 0
        self.started = 0  # interactive processes started
        self.seconds = 0.0
        self.fallback: SubprocessRunner | None = None  # set once the session cannot start
        self.fallback_reason = ""
        self._one_off: SubprocessRunner | None = None
        self._process: _Process | None = None
        self._closed = False  # after close(), nothing starts a process again (a late background read)
        self._lock = threading.Lock()

    @property
    def processes(self) -> int:
        """Every `openstack` process this runner started: sessions plus one-process-per-call commands."""
        return self.started + sum(r.calls for r in (self.fallback, self._one_off) if r is not None)

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.alive() else None

    def run(self, args: Sequence[str], *, output: str = "json", timeout: float | None = None) -> Any:
        args = list(args)
        argv = [*args, "-f", "json"] if output in ("json", "lease") else args
        command = command_label(args)
        log.debug("openstack %s", " ".join(args))
        with self._lock:
            self.calls += 1
            try:
                line = encode_line(argv)
            except Unexpressible:
                return self._per_process(args, output, timeout, why="an argument holds a quote or line break")
            if self.fallback is not None:
                return self.fallback.run(args, output=output, timeout=timeout)
            started = time.monotonic()
            try:
                reply = self._send(line, args, command, timeout or self.timeout)
            except SessionStartError as exc:
                return self._fall_back(str(exc)).run(args, output=output, timeout=timeout)
            finally:
                self.seconds += time.monotonic() - started
        if reply.failed:
            raise classify(command, reply.stderr, reply.returncode)
        return None if output == "none" else parse_json_output(reply.stdout, command=command)

    def _send(self, line: str, args: list[str], command: str, timeout: float) -> Reply:
        for attempt in (1, 2):
            if self._closed:
                raise OpenStackError(f"`openstack {command}` was not run: the command is over and its openstack "
                                     "session closed", command=command)
            process = self._ensure_process()
            try:
                out, err, log_text = process.exchange(line, time.monotonic() + timeout)
            except TimeoutError:
                self._discard(f"`{command}` timed out")
                raise OpenStackError(f"`openstack {command}` did not finish within {timeout:.0f} s",
                                     command=command) from None
            except SessionDied as exc:
                self._discard(f"the process ended during `{command}`")
                if attempt == 1 and is_read_only(args):
                    log.warning("the openstack session ended (%s) during `%s`; running it again in a new one",
                                exc, command)
                    continue
                raise OpenStackError(f"`openstack {command}` was cut short: the openstack session ended ({exc})",
                                     command=command,
                                     hint="it may or may not have reached the cloud; the run's records find "
                                          "what it created") from None
            except BaseException:  # Ctrl+C mid-command: its output would be taken for the next command's
                self._discard("interrupted")
                raise
            return judge(out, err, log_text)
        raise AssertionError("unreachable")

    def start(self) -> None:
        """Start the process now, without waiting: its 1-2 s of start-up then overlaps other work."""
        with self._lock:
            if self._process is None and self.fallback is None and not self._closed:
                try:
                    self._spawn()
                except SessionStartError as exc:
                    self._fall_back(str(exc))

    def _spawn(self) -> _Process:
        self._process = _Process(self.executable, self.env)
        self.started += 1
        return self._process

    def _ensure_process(self) -> _Process:
        process = self._process
        if process is not None and process.alive() and process.ready:
            return process
        if process is None or not process.alive():
            if process is not None:
                self._discard("it had exited")
            process = self._spawn()
        try:
            out, err, _log = process.exchange("", time.monotonic() + self.start_timeout)
        except (TimeoutError, SessionDied) as exc:
            detail = "no answer" if isinstance(exc, TimeoutError) else str(exc)
            self._discard("it did not start")
            tail = [line for line in bytes(process.buffers["err"]).decode(errors="replace").splitlines()
                    if line.strip()][-1:]
            raise SessionStartError(f"{detail}{': ' + tail[0] if tail else ''}") from None
        except BaseException:
            self._discard("interrupted while starting")
            raise
        log.debug("openstack session %s started (pid %s); start-up output: %r %r", self.credentials.get(
            "OS_REGION_NAME", ""), process.pid, out[-200:], err[-200:])
        process.ready = True
        return process

    def _discard(self, why: str) -> None:
        process, self._process = self._process, None
        if process is not None:
            log.debug("openstack session %s discarded: %s", process.pid, why)
            process.kill()

    def _fall_back(self, why: str) -> SubprocessRunner:
        log.warning("the interactive openstack session could not start (%s); running one openstack process "
                    "per command for this site", why)
        self.fallback_reason = why
        self.fallback = SubprocessRunner(self.credentials, executable=self.executable, timeout=self.timeout)
        return self.fallback

    def _per_process(self, args: list[str], output: str, timeout: float | None, *, why: str) -> Any:
        log.debug("running `openstack %s` as its own process: %s", " ".join(args[:3]), why)
        if self._one_off is None:
            self._one_off = SubprocessRunner(self.credentials, executable=self.executable, timeout=self.timeout)
        return self._one_off.run(args, output=output, timeout=timeout)

    def close(self) -> None:
        """End the session process (idempotent); a command still running in another thread is cut off."""
        self._closed = True
        if self._lock.acquire(timeout=0.5):
            try:
                process, self._process = self._process, None
                if process is not None:
                    process.close()
            finally:
                self._lock.release()
        else:
            process = self._process
            if process is not None:
                process.kill()

    def __enter__(self) -> SessionRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
