"""Eight full runs at once against one twin and one state directory (no local SSH key)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from chameleon_twin.server import TwinServer

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[1]
CPU_REPO = str(ROOT / "examples" / "pandas-sklearn")


def test_eight_parallel_runs_share_one_keypair_get_distinct_addresses_and_leave_nothing(
        twin: TwinServer, tmp_path: Path, isolated_env: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(isolated_env), **twin.env("CHI@UC"),
           "PROVISION_STATE_DIR": str(tmp_path / "state"), "PROVISION_POLL_SECONDS": "0.5",
           "PROVISION_SSH_TIMEOUT": "0"}

    def provision(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(ROOT / "provision.py"), *args], env=env, capture_output=True,
                              text=True, timeout=900)

    with ThreadPoolExecutor(max_workers=8) as pool:
        runs = list(pool.map(lambda _i: provision(CPU_REPO, "--yes", "--json"), range(8)))
    assert all(r.returncode == 0 for r in runs), [r.stderr[-400:] for r in runs if r.returncode]
    assert not any("database is locked" in r.stderr for r in runs)
    docs = [json.loads(r.stdout) for r in runs]
    site = twin.state()["sites"]["CHI@UC"]
    assert len(site["keypairs"]) == 1
    assert len(list((tmp_path / "state" / "keys").glob("id_ed25519_*"))) == 2  # one key: private and public
    assert len({d["floating_ip"] for d in docs}) == 8
    ssh_config = tmp_path / "state" / "ssh" / "config"  # eight Host blocks, none lost to a parallel writer
    assert ssh_config.read_text().count("\nHost ") == 8
    assert (isolated_env / ".ssh" / "config").read_text().count("Include ") == 1

    with ThreadPoolExecutor(max_workers=8) as pool:
        gone = list(pool.map(lambda d: provision("destroy", d["run_id"], "--yes"), docs))
    assert all(r.returncode == 0 for r in gone), [r.stderr[-400:] for r in gone if r.returncode]
    site = twin.state()["sites"]["CHI@UC"]
    assert site["servers"] == [] and site["floating_ips"] == []
    assert "\nHost " not in ssh_config.read_text()
    assert all(x["status"] in ("TERMINATED", "DELETED", "DELETING") for x in site["blazar"]["leases"])
