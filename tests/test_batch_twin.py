"""`provision batch` end to end: the real `openstack` CLI against the twin, one process per site for the batch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import RunMain

from chameleon_twin.server import TwinServer

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[1]
GPU_REPO = str(ROOT / "examples" / "pytorch-gpu-24gb")
CPU_REPO = str(ROOT / "examples" / "pandas-sklearn")


def docs(out: str) -> list[dict]:
    return sorted((json.loads(x) for x in out.splitlines()), key=lambda d: d["batch"]["line"])


def test_plan_only_batch_reads_each_site_once_and_reports_a_bad_row_in_the_middle(
        tmp_path: Path, cloud_env: dict[str, str], run_main: RunMain) -> None:
    batch = tmp_path / "rows.csv"
    batch.write_text(f"repo,node_type,hours,site\n{CPU_REPO},,3,\n{CPU_REPO},no_such_type,,\n"
                     f"{GPU_REPO},,,CHI@TACC\n{CPU_REPO},,,\n")
    code, out, err = run_main("batch", str(batch), "--plan-only", "--jobs", "3")
    assert code == 20, err
    lines = docs(out)
    assert [d["batch"]["exit_code"] for d in lines] == [0, 2, 0, 0]
    assert lines[0]["lease"]["hours"] == 3 and lines[2]["resource"]["site"] == "CHI@TACC"
    assert lines[1]["error"]["message"].startswith("node type 'no_such_type' does not exist")
    # two sites: one `openstack` process each for the whole batch, catalogs read once per site
    final = max((d for d in lines if "stats" in d), key=lambda d: d["stats"]["openstack_calls"])
    assert final["stats"]["openstack_processes"] <= 2
    assert final["stats"]["openstack_calls"] <= 12


def test_a_real_batch_promises_the_last_free_host_to_one_repository_only(
        twin: TwinServer, tmp_path: Path, cloud_env: dict[str, str], run_main: RunMain) -> None:
    """CHI@UC has one gpu_a100_nvlink: of two repositories pinned to it, one gets it, the other has no capacity."""
    batch = tmp_path / "rows.csv"
    batch.write_text(f"repo,node_type,name\n{GPU_REPO},gpu_a100_nvlink,cap-a\n{GPU_REPO},gpu_a100_nvlink,cap-b\n")
    code, out, err = run_main("batch", str(batch), "--yes", "--max-su", "1000", "--jobs", "2")
    assert code == 20, err
    lines = docs(out)
    assert sorted(d["batch"]["exit_code"] for d in lines) == [0, 10]
    winner = next(d for d in lines if d["batch"]["exit_code"] == 0)
    assert winner["resource"]["node_type"] == "gpu_a100_nvlink" and winner["server"]["status"] == "ACTIVE"
    leases = [x for x in twin.state()["sites"]["CHI@UC"]["blazar"]["leases"] if x["holds_resources"]]
    assert len(leases) == 1  # the loser never asked Blazar: nothing to clean up, nothing refused
    log = Path(winner["log_file"]).read_text()  # each run's own log holds the commands its thread ran
    loser = next(d for d in lines if d["batch"]["exit_code"] == 10)["batch"]["name"]
    assert "reservation lease create" in log and "server create" in log and f"{loser}-" not in log
    code, _, err = run_main("destroy", winner["run_id"], "--yes")
    assert code == 0, err


def test_ctrl_c_in_a_real_batch_removes_what_every_run_in_flight_created(
        twin: TwinServer, tmp_path: Path, cloud_env: dict[str, str]) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    batch = tmp_path / "rows.txt"
    batch.write_text(f"{CPU_REPO}\n{ROOT / 'examples' / 'pandas-sklearn'}/\n")
    proc = subprocess.Popen([sys.executable, str(ROOT / "provision.py"), "batch", str(batch), "--yes", "--jobs", "2"],
                            env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def leases() -> list[dict]:
        return [x for x in twin.state()["sites"]["CHI@UC"]["blazar"]["leases"] if x["holds_resources"]]

    deadline = time.monotonic() + 120
    while len(leases()) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert len(leases()) == 2, "both runs should be creating when Ctrl+C comes"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "batch interrupted; nothing was left behind" in err
    assert sorted(json.loads(x)["batch"]["exit_code"] for x in out.splitlines()) == [130, 130]
    state = twin.state()["sites"]["CHI@UC"]
    assert leases() == [] and state["servers"] == []
