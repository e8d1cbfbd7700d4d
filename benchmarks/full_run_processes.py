"""A full `provision --yes` against the twin: `openstack` processes and Keystone tokens per site, and peak memory.

The same run is made twice on one twin, with the session runner (the default) and with
PROVISION_OPENSTACK_RUNNER=process, and the counts are printed side by side with their ratio:

* `openstack` processes per site: a sampler walks /proc every 20 ms for `openstack` processes
  descending from the run (the site is the OS_REGION_NAME in their environment);
* token requests per site: `POST /<site>/identity/v3/auth/tokens` lines in the twin's request log;
* peak memory: the largest sum of resident memory of `provision` and all its descendants the
  sampler saw (the tool plus its session processes).

    python benchmarks/full_run_processes.py [--repo examples/pandas-sklearn]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from chameleon_twin.server import TwinServer

ROOT = Path(__file__).resolve().parents[1]
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Sample:
    openstack: dict[tuple[int, str], str] = field(default_factory=dict)  # (pid, start time) -> site
    peak_rss: int = 0


def _stat(pid: str) -> tuple[int, str] | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), fields[19]  # parent pid, start time


def watch(root: int, stop: threading.Event, sample: Sample) -> None:
    while not stop.is_set():
        parents = {int(p): s for p in os.listdir("/proc") if p.isdigit() and (s := _stat(p)) is not None}
        tree, frontier = {root}, [root]
        while frontier:
            parent = frontier.pop()
            children = [pid for pid, (ppid, _) in parents.items() if ppid == parent]
            tree.update(children)
            frontier += children
        rss = 0
        for pid in tree:
            try:
                rss += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
                key = (pid, parents.get(pid, (0, ""))[1])
                if key not in sample.openstack and b"openstack" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                    region = next((e.split(b"=", 1)[1].decode() for e in env if e.startswith(b"OS_REGION_NAME=")),
                                  "?")
                    sample.openstack[key] = region
            except OSError:
                continue
        sample.peak_rss = max(sample.peak_rss, rss)
        stop.wait(0.02)


def watched(argv: list[str], env: dict[str, str], timeout: float) -> tuple[float, subprocess.CompletedProcess[str],
                                                                           Sample]:
    """Run `provision ARGV` with its process tree sampled (openstack processes, peak memory) until it ends."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(ROOT / "provision.py"), *argv], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    sample, stop = Sample(), threading.Event()
    watcher = threading.Thread(target=watch, args=(proc.pid, stop, sample))
    watcher.start()
    out, err = proc.communicate(timeout=timeout)
    seconds = time.perf_counter() - started
    stop.set()
    watcher.join()
    return seconds, subprocess.CompletedProcess(proc.args, proc.returncode, out, err), sample


def provision(twin: TwinServer, log: io.StringIO, repo: str, runner: str,
              home: str) -> tuple[float, dict, Sample, Counter]:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": home, **twin.env("CHI@UC"),
           "PROVISION_STATE_DIR": f"{home}/state-{runner}", "PROVISION_OPENSTACK_RUNNER": runner}
    start = len(log.getvalue())
    seconds, run, sample = watched([repo, "--yes", "--json", "-q"], env, timeout=900)
    if run.returncode != 0:
        raise SystemExit(f"provision ({runner}) failed:\n{run.stderr[-2000:]}")
    tokens = Counter(re.findall(r"^POST /(\w+)/identity/v3/auth/tokens -> 201", log.getvalue()[start:], re.M))
    doc = json.loads(run.stdout)
    subprocess.run([sys.executable, str(ROOT / "provision.py"), "destroy", doc["run_id"], "--yes", "-q"], env=env,
                   capture_output=True, check=True, timeout=900, cwd=ROOT)
    return seconds, doc, sample, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=str(ROOT / "examples" / "pandas-sklearn"))
    args = parser.parse_args()
    log = io.StringIO()
    results = {}
    with TwinServer(port=0, log=log) as twin, tempfile.TemporaryDirectory() as home:
        uids = {"CHI@UC": "uc", "CHI@TACC": "tacc"}
        for runner in ("session", "process"):
            results[runner] = provision(twin, log, args.repo, runner, home)
    print(f"full `provision {Path(args.repo).name} --yes` against the twin (speed 60x), runner session vs process")
    for runner, (seconds, doc, sample, tokens) in results.items():
        per_site = Counter(sample.openstack.values())
        sites = sorted(set(per_site) | {s for s, u in uids.items() if tokens[u]})
        counts = "; ".join(f"{site}: {per_site[site]} openstack processes, {tokens[uids.get(site, '?')]} token "
                           f"requests" for site in sites)
        print(f"  {runner}: {seconds:.1f} s, {doc['stats']['openstack_calls']} openstack commands; "
              f"{counts}; peak memory {sample.peak_rss / 2**20:.0f} MB (provision and its processes)")
    s, p = results["session"], results["process"]
    print(f"ratios session/process: openstack processes {len(s[2].openstack)}/{len(p[2].openstack)} = "
          f"{len(s[2].openstack) / max(1, len(p[2].openstack)):.2f}, token requests "
          f"{sum(s[3].values())}/{sum(p[3].values())} = {sum(s[3].values()) / max(1, sum(p[3].values())):.2f}, "
          f"wall time {s[0]:.1f}/{p[0]:.1f} s = {s[0] / p[0]:.2f}")


if __name__ == "__main__":
    main()
