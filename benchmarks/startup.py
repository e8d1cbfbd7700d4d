"""How fast `provision` starts, and what `import provision` pulls in.

Times `provision --help` and `provision status --local`-style cheap commands as whole processes,
against a bare `python -c pass` measured in the same run (the ratio is what the tool adds to an
interpreter start), and lists the heavy packages that `import provision` loads (it should load none
of the twin, openai or the openstack libraries).

    python benchmarks/startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("chameleon_twin", "openai", "openstackclient", "blazarclient", "keystoneauth1",
         "pydantic", "requests", "git", "rich")


def wall(cmd: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(cmd, env=env, capture_output=True, check=False, cwd=ROOT)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def imported_by(statement: str, env: dict[str, str]) -> list[str]:
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", statement], env=env, capture_output=True,
                         text=True, check=False, cwd=ROOT).stderr
    names = {line.rsplit("|", 1)[-1].strip() for line in out.splitlines() if line.startswith("import time:")}
    return [h for h in HEAVY if any(n == h or n.startswith(h + ".") for n in names)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": home, "PROVISION_STATE_DIR": f"{home}/state"}
        base = wall([sys.executable, "-c", "pass"], env, args.runs)
        rows = [
            ("provision --help", [sys.executable, str(ROOT / "provision.py"), "--help"]),
            ("provision --version", [sys.executable, str(ROOT / "provision.py"), "--version"]),
            ("provision status", [sys.executable, str(ROOT / "provision.py"), "status"]),
            ("provision analyze examples/pandas-sklearn",
             [sys.executable, str(ROOT / "provision.py"), "analyze", str(ROOT / "examples" / "pandas-sklearn")]),
        ]
        print(f"python -c pass: {base:.3f} s (median of {args.runs})")
        for label, cmd in rows:
            t = wall(cmd, env, args.runs)
            print(f"{label}: {t:.3f} s, {t / base:.1f}x a bare interpreter")
        for statement in ("import provision",):
            heavy = imported_by(statement, env)
            print(f"`{statement}` loads: {', '.join(heavy) if heavy else 'none of ' + ', '.join(HEAVY)}")


if __name__ == "__main__":
    main()
