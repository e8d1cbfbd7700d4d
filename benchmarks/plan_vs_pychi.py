"""`provision --plan-only` against python-chi doing the same read-only queries, both as whole processes.

Both run against one twin started here, alternately, and the medians are compared in the same run.
python-chi's side is Chameleon's own library reading what a plan reads (node records from the
discovery API, Blazar hosts and allocations, the image list), imports included. The plan runs with
rules only (`--ai off`), with an empty catalog cache (as python-chi has none) and with the cache an
earlier run left. This script installs nothing: without python-chi (`pip install -e '.[bench]'`) it
prints the plan's times alone. `--pychi-python` runs python-chi's side with another interpreter
(one whose environment has python-chi), so the plan is timed in an environment without python-chi's
extra OpenStack client plugins, which every `openstack` start-up would otherwise load.

    python benchmarks/plan_vs_pychi.py [--repo examples/pytorch-gpu-24gb] [--runs 5] [--pychi-python PATH]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chameleon_twin.server import TwinServer

ROOT = Path(__file__).resolve().parents[1]

PYCHI = """
from chi import clients, hardware, image
nodes = hardware.get_nodes()                                 # discovery API and Blazar hosts, side by side
node_types = {n.type for n in nodes}
allocations = clients.blazar().allocation.list("os-hosts")   # Blazar allocations
images = image.list_images()                                 # Glance
print(len(nodes), len(node_types), len(allocations), len(images))
"""


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, cwd=ROOT)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return seconds, proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=str(ROOT / "examples" / "pytorch-gpu-24gb"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pychi-python", help="interpreter for python-chi's side (default: this one)")
    args = parser.parse_args()
    pychi_python = args.pychi_python or sys.executable
    if args.pychi_python:
        have_chi = subprocess.run([pychi_python, "-c", "import chi"], capture_output=True, check=False).returncode == 0
    else:
        have_chi = importlib.util.find_spec("chi") is not None
    plan = [sys.executable, str(ROOT / "provision.py"), args.repo, "--plan-only", "--json", "-q", "--ai", "off"]
    times: dict[str, list[float]] = {"python-chi": [], "plan, empty cache": [], "plan, warm cache": []}
    processes: set[int] = set()
    with TwinServer(port=0) as twin, tempfile.TemporaryDirectory() as tmp:
        base = {"PATH": os.environ.get("PATH", ""), "HOME": tmp, **twin.env("CHI@UC")}
        base["CHI_RESOURCE_API_URL"] = base["CHAMELEON_API_URL"]  # where python-chi looks for it
        warm = {**base, "PROVISION_STATE_DIR": f"{tmp}/warm"}
        timed(plan, warm)  # fills the warm cache; not counted
        for i in range(args.runs):
            if have_chi:
                seconds, out = timed([pychi_python, "-c", PYCHI], base)
                times["python-chi"].append(seconds)
            seconds, out = timed(plan, {**base, "PROVISION_STATE_DIR": f"{tmp}/cold{i}"})
            times["plan, empty cache"].append(seconds)
            processes.add(json.loads(out)["stats"]["openstack_processes"])
            seconds, out = timed(plan, warm)
            times["plan, warm cache"].append(seconds)
    medians = {label: statistics.median(t) for label, t in times.items() if t}
    print(f"median of {args.runs}, alternating, one twin; openstack processes per plan: "
          f"{', '.join(map(str, sorted(processes)))}; python-chi run by {pychi_python}")
    for label, seconds in medians.items():
        print(f"  {label}: {seconds:.2f} s")
    if not have_chi:
        print("python-chi is not importable here (pip install -e '.[bench]'), so there is no ratio")
        return
    for label in ("plan, empty cache", "plan, warm cache"):
        print(f"{label} / python-chi: {medians[label] / medians['python-chi']:.2f}x (target <= 1.5x, stretch <= 1.0x)")


if __name__ == "__main__":
    main()
