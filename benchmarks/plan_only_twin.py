"""How long `provision REPO --plan-only` takes against the twin, and where the time goes.

Prints wall time, the number of `openstack` processes, and the ratio of the plan's time to the
cost of that many bare `openstack token issue` processes measured in the same run: the part of
a plan that is `openstack` start-up (one process with the session runner; one per command with
PROVISION_OPENSTACK_RUNNER=process).

    python benchmarks/plan_only_twin.py [--repo examples/pytorch-gpu-24gb] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chameleon_provision.cloud.openstack_cli import find_openstack
from chameleon_twin.server import TwinServer

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=str(ROOT / "examples" / "pytorch-gpu-24gb"))
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with TwinServer(port=0) as twin, tempfile.TemporaryDirectory() as state:
        # A fresh state dir: the first run fills the catalog cache, later runs show its effect.
        env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), **twin.env("CHI@UC"),
               "PROVISION_STATE_DIR": state}
        plan_times, calls = [], []
        for _ in range(args.runs):
            started = time.perf_counter()
            out = subprocess.run([sys.executable, str(ROOT / "provision.py"), args.repo, "--plan-only", "--json",
                                  "-q"], env=env, capture_output=True, text=True, check=True).stdout
            plan_times.append(time.perf_counter() - started)
            calls.append(json.loads(out)["stats"]["openstack_processes"])
        exe = find_openstack()
        token_times = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run([exe, "token", "issue", "-f", "json"], env=env, capture_output=True, check=True)
            token_times.append(time.perf_counter() - started)
    per_process = statistics.median(token_times)
    print(f"one bare `openstack token issue` process (baseline): {per_process:.2f} s")
    for i, (seconds, n) in enumerate(zip(plan_times, calls, strict=True), 1):
        cache = "cold catalog cache" if i == 1 else "warm catalog cache"
        print(f"plan-only run {i} ({cache}): {seconds:.2f} s, {n} openstack processes; process start-up is "
              f"{n * per_process / seconds:.0%} of it ({n} x {per_process:.2f} s)")


if __name__ == "__main__":
    main()
