"""Faults at every step of a full run against the twin: what the run does, and what it leaves behind.

Each case starts `provision examples/pandas-sklearn --yes --json` as its own process against one twin
(reset between cases) with a fault injected at one step: a burst of two 503s, a 429, a terminal refusal,
Ctrl+C (SIGINT) once the lease exists, or SIGKILL followed by `provision resume` or `provision destroy`.
One row per case: the exit code, the resources left in the twin afterwards (after the cleanup the case
calls for), the run's final recorded status, and whether that is the wanted outcome.

    python benchmarks/fault_matrix.py [--only 503]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from chameleon_twin.server import TwinServer

ROOT = Path(__file__).resolve().parents[1]
REPO = str(ROOT / "examples" / "pandas-sklearn")
STEPS = {  # step -> (method, path prefix) at CHI@UC
    "auth": ("POST", "/uc/identity/v3/auth/tokens"),
    "images": ("GET", "/uc/image/v2/images"),
    "hosts": ("GET", "/uc/reservation/v1/os-hosts"),
    "lease create": ("POST", "/uc/reservation/v1/leases"),
    "lease wait": ("GET", "/uc/reservation/v1/leases/"),
    "server create": ("POST", "/uc/compute/v2.1/servers"),
    "server wait": ("GET", "/uc/compute/v2.1/servers/"),
    "address": ("GET", "/uc/network/v2.0/floatingips"),
    "attach": ("PUT", "/uc/network/v2.0/floatingips/"),
}


def admin(twin: TwinServer, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{twin.base_url}/_twin/{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def left(twin: TwinServer) -> str:
    site = admin(twin, "GET", "state")["sites"]["CHI@UC"]
    leases = [x for x in site["blazar"]["leases"] if x["status"] not in ("TERMINATED", "DELETED", "DELETING")]
    return f"{len(leases)}L {len(site['servers'])}S {len(site['floating_ips'])}F"


def provision(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(ROOT / "provision.py"), *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def run_status(env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, str(ROOT / "provision.py"), "status", "--local", "--json"], env=env,
                         capture_output=True, text=True).stdout
    runs = json.loads(out or '{"runs": []}')["runs"]
    return runs[0]["status"] if runs else "-"


def wait_for_lease(twin: TwinServer, proc: subprocess.Popen[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if admin(twin, "GET", "state")["sites"]["CHI@UC"]["blazar"]["leases"]:
            return
        time.sleep(0.2)


def case(twin: TwinServer, base_env: dict[str, str], name: str, fault: dict[str, Any] | None,
         signal_after_lease: int | None = None, then: str | None = None) -> tuple[str, int, str, str, str]:
    admin(twin, "POST", "reset")
    with tempfile.TemporaryDirectory() as state:
        env = {**base_env, "PROVISION_STATE_DIR": state}
        if fault:
            admin(twin, "POST", "faults", fault)
        proc = provision(env, REPO, "--yes", "--json")
        if signal_after_lease is not None:
            wait_for_lease(twin, proc)
            proc.send_signal(signal_after_lease)
        proc.communicate(timeout=900)
        code = proc.returncode
        run_id = next((r["run_id"] for r in json.loads(subprocess.run(
            [sys.executable, str(ROOT / "provision.py"), "status", "--local", "--json"], env=env,
            capture_output=True, text=True).stdout or '{"runs": []}')["runs"]), None)
        if then and run_id:
            follow = provision(env, then, run_id, "--yes", "--json")
            follow.communicate(timeout=900)
            code = follow.returncode
            if then == "resume":
                done = provision(env, "destroy", run_id, "--yes")
                done.communicate(timeout=900)
        return name, code, left(twin), run_status(env), ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run only the cases whose name contains this")
    args = parser.parse_args()
    with TwinServer(port=0, speed=600) as twin:
        base = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), **twin.env("CHI@UC"),
                "PROVISION_POLL_SECONDS": "0.3", "PROVISION_SSH_TIMEOUT": "0"}
        cases: list[tuple[str, dict[str, Any] | None, int | None, str | None, str]] = []
        for step, (method, path) in STEPS.items():
            cases.append((f"{step}: two 503s", {"method": method, "path": path, "status": 503, "count": 2}, None, None,
                          "ready"))
        for step in ("hosts", "server wait", "address"):
            method, path = STEPS[step]
            cases.append((f"{step}: a 429", {"method": method, "path": path, "status": 429, "count": 1,
                                             "retry_after": 1}, None, None, "ready"))
        cases += [
            ("server create: refused (400)", {"method": "POST", "path": STEPS["server create"][1], "status": 400,
                                              "count": 1}, None, None, "cleaned"),
            ("SIGINT after the lease", None, signal.SIGINT, None, "cleaned"),
            ("SIGKILL, then destroy", None, signal.SIGKILL, "destroy", "destroyed"),
            ("SIGKILL, then resume", None, signal.SIGKILL, "resume", "destroyed"),
        ]
        rows = []
        print(f"{'case':36} {'exit':>4}  {'left':12} {'status':12} verdict")
        for name, fault, sig, then, wanted in cases:
            if args.only and args.only not in name:
                continue
            started = time.monotonic()
            _, code, remaining, status, _ = case(twin, base, name, fault, sig, then)
            if wanted == "ready":
                good = code == 0 and status == "ready"
            else:
                good = remaining == "0L 0S 0F" and status == wanted
            rows.append(good)
            print(f"{name:36} {code:>4}  {remaining:12} {status:12} {'ok' if good else 'MISS'}"
                  f"  ({time.monotonic() - started:.0f} s)", flush=True)
        print(f"{sum(rows)} of {len(rows)} cases as wanted (transient: the run succeeds; terminal or interrupted: "
              "nothing left and a truthful status)")


if __name__ == "__main__":
    main()
