"""`provision --help`, `provision analyze` without an AI key and `provision status` load no heavy library.

Checked the way a person would, with `python -X importtime` on the real command.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NEVER = ("openai", "openstack", "openstackclient", "keystoneauth1", "blazarclient", "cliff", "chameleon_twin",
         "chameleon_provision.twin")


def imported(tmp_path: Path, *args: str) -> set[str]:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PROVISION_STATE_DIR": str(tmp_path / "s")}
    proc = subprocess.run([sys.executable, "-X", "importtime", str(ROOT / "provision.py"), *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}


@pytest.mark.parametrize("args", [("--help",), ("status",), ("analyze", str(ROOT / "examples" / "pandas-sklearn"))],
                         ids=["help", "status", "analyze"])
def test_cheap_commands_import_no_heavy_library(tmp_path: Path, args: tuple[str, ...]) -> None:
    names = imported(tmp_path, *args)
    assert "chameleon_provision" in names or args == ("--help",)
    heavy = sorted(n for n in names if any(n == h or n.startswith(h + ".") for h in NEVER))
    assert heavy == []
