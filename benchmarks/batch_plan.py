"""`provision batch --plan-only --jobs 4` over the corpus against the twin, against one repository's plan.

Prints, measured in the same run on one twin: the wall time of one repository's `--plan-only` and of the
batch, and their ratio (target: at most 3x); `openstack` processes per site (a /proc sampler, as in
full_run_processes.py) and Keystone token requests per site (the twin's request log), for the whole batch
(target: a handful); and the batch's peak memory, `provision` plus its `openstack` processes (target: under
400 MB).

The repositories are the corpus folders (../shared/corpus/dev and tests/corpus, each repository's files/
read as a plain folder), cycled to --count rows with distinct names when the corpus is smaller.

Each is measured --runs times, alternating, each time with a cold catalog cache; the medians are compared.

    python benchmarks/batch_plan.py [--count 50] [--jobs 4] [--runs 3]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import tempfile
from collections import Counter
from pathlib import Path

from full_run_processes import Sample, watched

from chameleon_twin.server import TwinServer

ROOT = Path(__file__).resolve().parents[1]
CORPORA = (ROOT.parent / "shared" / "corpus" / "dev", ROOT / "tests" / "corpus")
UIDS = {"uc": "CHI@UC", "tacc": "CHI@TACC", "ncar": "CHI@NCAR"}


def corpus() -> list[Path]:
    repos = [p / "files" for c in CORPORA if c.is_dir() for p in sorted(c.iterdir()) if (p / "files").is_dir()]
    if not repos:
        raise SystemExit("no corpus found (../shared/corpus/dev or tests/corpus)")
    return repos


def measure(argv: list[str], env: dict[str, str], log: io.StringIO) -> tuple[float, str, Sample, Counter[str]]:
    start = len(log.getvalue())
    seconds, proc, sample = watched(argv, env, timeout=1800)
    if proc.returncode not in (0, 20):
        raise SystemExit(f"provision {argv[0]} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    tokens = Counter(UIDS.get(u, u) for u in re.findall(r"^POST /(\w+)/identity/v3/auth/tokens -> 201",
                                                        log.getvalue()[start:], re.M))
    return seconds, proc.stdout, sample, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    repos = corpus()
    rows = [(repos[i % len(repos)], f"r{i:03d}") for i in range(args.count)]
    log = io.StringIO()
    with TwinServer(port=0, log=log) as twin, tempfile.TemporaryDirectory() as home:
        base = {"PATH": os.environ.get("PATH", ""), "HOME": home, **twin.env("CHI@UC"), "PROVISION_AI": "off"}
        batch_file = Path(home) / "batch.csv"
        batch_file.write_text("repo,name\n" + "".join(f"{repo},{name}\n" for repo, name in rows))
        singles, batches = [], []
        for n in range(args.runs):  # alternating, so a busy moment of the machine hits both alike
            singles.append(measure([str(repos[0]), "--plan-only", "--json", "-q"],
                                   {**base, "PROVISION_STATE_DIR": f"{home}/single{n}"}, log))
            batches.append(measure(["batch", str(batch_file), "--plan-only", "--jobs", str(args.jobs), "-q"],
                                   {**base, "PROVISION_STATE_DIR": f"{home}/batch{n}"}, log))
    single = sorted(singles, key=lambda m: m[0])[len(singles) // 2]
    batch = sorted(batches, key=lambda m: m[0])[len(batches) // 2]
    lines = [json.loads(x) for x in batch[1].splitlines()]
    ok = sum(1 for d in lines if d["batch"]["exit_code"] == 0)
    codes = Counter(d["batch"]["exit_code"] for d in lines)
    print(f"plan-only against the twin: {len(rows)} rows from {len(repos)} corpus repositories, --jobs {args.jobs}, "
          f"median of {args.runs} (one plan: {', '.join(f'{m[0]:.1f}' for m in singles)} s; batch: "
          f"{', '.join(f'{m[0]:.1f}' for m in batches)} s)")
    print(f"  one plan ({repos[0].parent.name}): {single[0]:.1f} s, {len(single[2].openstack)} openstack processes, "
          f"{sum(single[3].values())} token requests, peak {single[2].peak_rss / 2**20:.0f} MB")
    per_site = Counter(batch[2].openstack.values())
    sites = sorted(set(per_site) | set(batch[3]))
    print(f"  batch: {batch[0]:.1f} s, {ok}/{len(lines)} plans feasible (exit codes {dict(codes)}); "
          + "; ".join(f"{s}: {per_site[s]} openstack processes, {batch[3][s]} token requests" for s in sites)
          + f"; peak {batch[2].peak_rss / 2**20:.0f} MB (provision and its processes)")
    runner_count = max((d.get("stats", {}).get("openstack_processes", 0) for d in lines), default=0)
    print(f"  the batch's own count of openstack processes it started: {runner_count} (the /proc sampler may also "
          "catch a command's shell between fork and exec, which still shows the openstack command line)")
    print(f"  ratio batch/one plan: {batch[0] / single[0]:.2f}x time for {len(rows)}x the repositories "
          f"(target <= 3x); {batch[0] / len(rows):.2f} s per repository")


if __name__ == "__main__":
    main()
