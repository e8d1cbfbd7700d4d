"""Following the node's setup over SSH: read ~/.provision/setup.status until it is ok, failed or time is up.

Each look is one `ssh -o BatchMode=yes … cat` (never a prompt, never a password). A node that cannot be
reached at all is reported in one line and the run goes on: the setup still runs there, and `provision
ssh`/`status` show it later. A private repository's setup waits at its clone step for the user's agent;
then one `ssh -A` session runs the saved script with the agent forwarded, and the polling goes on beside it.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

STATUS_FILE = "/home/cc/.provision/setup.status"
SAVED_SCRIPT = "/home/cc/.provision/setup.sh"
_FIRST_CONTACT_TRIES = 3  # sshd answers TCP a little before it accepts keys; after that, give up
_HEARTBEAT = 60.0  # seconds between "still in step" lines


@dataclass(frozen=True)
class SetupOutcome:
    state: str  # ok | failed | timeout | waiting | not followed | stopped
    step: str | None = None
    failed_step: str | None = None
    steps_total: int | None = None
    elapsed_s: float = 0.0
    detail: str = ""
    log_tail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Target:
    address: str
    identity: Path | None
    known_hosts: Path
    user: str = "cc"

    def ssh(self, *remote: str, agent: bool = False) -> list[str]:
        args = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "StrictHostKeyChecking=accept-new",
                "-o", f"UserKnownHostsFile={self.known_hosts}"]
        if self.identity is not None:
            args += ["-o", "IdentitiesOnly=yes", "-i", str(self.identity)]
        return [*args, *(["-A"] if agent else ["-a"]), f"{self.user}@{self.address}", "--", *remote]


def _look(target: Target) -> tuple[str, dict[str, Any] | None, str]:
    """('ok', status) | ('pending', None) before the script has written one | ('unreachable', None, why)."""
    try:
        proc = subprocess.run(target.ssh("cat", STATUS_FILE), capture_output=True, text=True, timeout=45,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return "unreachable", None, str(exc)
    if proc.returncode == 255:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("Warning: Permanently")]
        return "unreachable", None, (lines[-1] if lines else "ssh failed")
    if proc.returncode != 0:
        return "pending", None, ""  # no status file yet: cloud-init has not reached the script
    try:
        status = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return "pending", None, ""
    return ("ok", status, "") if isinstance(status, dict) else ("pending", None, "")


def follow(target: Target, *, timeout: float, poll: float, progress: Callable[[str], None],
           clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> SetupOutcome:
    start = clock()
    seen: tuple[Any, ...] = ()
    last_line = start
    misses = 0
    contacted = False
    agent: subprocess.Popen[bytes] | None = None
    status: dict[str, Any] = {}
    try:
        while True:
            elapsed = clock() - start
            kind, found, why = _look(target)
            if kind == "unreachable":
                misses += 1
                if not contacted and misses >= _FIRST_CONTACT_TRIES:
                    return SetupOutcome("not followed", elapsed_s=round(elapsed),
                                        detail=f"cannot reach {target.user}@{target.address} over SSH ({why})")
            else:
                contacted, misses = True, 0
            if kind == "pending" and (seen != ("pending",) or clock() - last_line >= _HEARTBEAT):
                progress(f"setup: not started yet (no {STATUS_FILE}), {_mmss(elapsed)} elapsed")
                seen, last_line = ("pending",), clock()
            if found is not None:
                status = found
                state = str(status.get("state", ""))
                where = (status.get("step"), status.get("step_index"), state)
                if where != seen or clock() - last_line >= _HEARTBEAT:
                    progress(f"setup: {_where(status)}, {_mmss(elapsed)} elapsed")
                    seen, last_line = where, clock()
                if state in ("ok", "failed"):
                    return _outcome(status, elapsed)
                if state == "waiting" and agent is None:
                    agent = _run_with_agent(target, progress)
                    if agent is None:
                        return _outcome(status, elapsed, detail="the private repository needs your SSH agent: "
                                        f"run `ssh -A {target.user}@{target.address} bash {SAVED_SCRIPT}`")
            if elapsed >= timeout:
                return _outcome(status, elapsed, state="timeout",
                                detail=f"still running after {_mmss(elapsed)}; it goes on on the node")
            sleep(min(poll, max(0.0, timeout - elapsed)))
    except KeyboardInterrupt:
        return _outcome(status, clock() - start, state="stopped",
                        detail="stopped following; the setup goes on on the node")
    finally:
        if agent is not None and agent.poll() is None:
            agent.terminate()


def _run_with_agent(target: Target, progress: Callable[[str], None]) -> subprocess.Popen[bytes] | None:
    """The clone of a private repository: one session with the user's agent forwarded, never a key copied."""
    if not os.environ.get("SSH_AUTH_SOCK"):
        return None
    progress("setup: cloning the private repository with your forwarded SSH agent (ssh -A)")
    return subprocess.Popen(target.ssh("bash", SAVED_SCRIPT, agent=True), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _where(status: dict[str, Any]) -> str:
    state, step = status.get("state"), status.get("step")
    if state == "ok":
        return "finished"
    if state == "failed":
        return f"FAILED in step {status.get('failed_step') or step}"
    position = f"{status.get('step_index')}/{status.get('steps_total')} " if status.get("steps_total") else ""
    return f"step {position}{step}" + (" (waiting)" if state == "waiting" else "")


def _outcome(status: dict[str, Any], elapsed: float, *, state: str | None = None, detail: str = "") -> SetupOutcome:
    state = state or str(status.get("state") or "running")
    failed = status.get("failed_step") if state == "failed" else None
    if not detail:
        detail = {"ok": "the repository is set up", "failed": f"step {failed} failed"}.get(state, "")
    total = status.get("steps_total")
    return SetupOutcome(state, step=status.get("step"), failed_step=failed,
                        steps_total=total if isinstance(total, int) else None, elapsed_s=round(elapsed),
                        detail=detail, log_tail=str(status.get("log_tail") or "")[-4000:])


def _mmss(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s"
