"""End to end against the twin with the real CLI: `ssh NAME` after a run, its run log, `extend`, and `--start`."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import Openstack, RunMain, admin, ok

from chameleon_provision.state import ssh_config
from chameleon_twin.server import TwinServer

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[1]
GPU_REPO = str(ROOT / "examples" / "pytorch-gpu-24gb")
CPU_REPO = str(ROOT / "examples" / "pandas-sklearn")


def ssh_g(home: Path, host: str) -> dict[str, str]:
    """The real `ssh -G HOST` reading the test HOME's ~/.ssh/config (ssh itself ignores $HOME)."""
    ssh = shutil.which("ssh")
    if ssh is None:
        pytest.skip("no ssh client installed")
    out = subprocess.run([ssh, "-G", "-F", str(home / ".ssh" / "config"), "--", host], capture_output=True,
                         text=True, check=True, timeout=10).stdout
    return {k: v for k, _, v in (line.partition(" ") for line in reversed(out.splitlines()))}


def lease_end(openstack: Openstack, lease_id: str) -> str:
    return str(ok(openstack("reservation", "lease", "show", lease_id))["end_date"])


def test_a_run_ends_with_ssh_name_and_destroy_removes_it(twin: TwinServer, cloud_env: dict[str, str],
                                                         run_main: RunMain, isolated_env: Path) -> None:
    code, out, err = run_main(CPU_REPO, "--yes", "--json", "--name", "first")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["ssh"]["command"] == "ssh first" and doc["ssh"]["included"] is True  # --yes consents
    assert doc["ssh_command"].startswith("ssh -i ")  # the full line stays in the document
    resolved = ssh_g(isolated_env, "first")
    identity = doc["ssh_command"].split()[2]
    assert resolved["hostname"] == doc["floating_ip"] and resolved["user"] == "cc"
    assert resolved["identityfile"] == identity

    # The log names every openstack command with its duration and exit status, and no secret.
    log = Path(doc["log_file"]).read_text()
    assert "openstack \"reservation lease create" in log or "openstack reservation lease create" in log
    assert " exit=0" in log and " seconds=" in log and "decision resource" in log
    assert cloud_env["OS_PASSWORD"] not in log
    code, out, _ = run_main("status", doc["run_id"], "--json")
    seen = json.loads(out)["runs"][0]
    assert seen["log_file"] == doc["log_file"] and seen["ssh_host"] == "first"
    code, out, _ = run_main("status", doc["run_id"])
    assert f"log {doc['log_file']}" in " ".join(out.split()) and "ssh first" in out

    code, out, err = run_main(CPU_REPO, "--yes", "--json", "--name", "second")
    assert code == 0, err
    second = json.loads(out)
    assert ssh_g(isolated_env, "second")["hostname"] == second["floating_ip"]
    user_config = (isolated_env / ".ssh" / "config").read_text()
    assert user_config.count("Include ") == 1  # the second run found it there

    code, _, err = run_main("destroy", doc["run_id"], "--yes")
    assert code == 0, err
    state = Path(cloud_env.get("PROVISION_STATE_DIR") or isolated_env / "state")
    assert ssh_config.host_of(state, doc["run_id"]) is None
    assert ssh_config.host_of(state, second["run_id"]) == "second"
    assert "openstack server delete" in Path(doc["log_file"]).read_text()  # destroy writes to the same log


def test_without_consent_the_include_line_is_printed_and_provision_ssh_uses_our_file(
        twin: TwinServer, cloud_env: dict[str, str], run_main: RunMain, isolated_env: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A terminal that answers yes to the run and no to the Include line.
    answers = iter([True, False])
    monkeypatch.setattr("provision._confirmer", lambda yes: lambda question: next(answers))
    code, out, err = run_main(CPU_REPO, "--json", "--name", "quiet")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["ssh"]["included"] is False and doc["ssh"]["include_line"] in err
    assert not (isolated_env / ".ssh" / "config").exists()
    seen: list[list[str]] = []
    monkeypatch.setattr("chameleon_provision.commands.ssh.exec_ssh", seen.append)
    code, _, err = run_main("ssh", doc["run_id"], "--", "nvidia-smi", "-L")
    assert code == 0, err
    assert seen[0][1:] == ["-F", doc["ssh"]["config_file"], "--", "quiet", "nvidia-smi", "-L"]


def test_extend_moves_the_end_and_a_refusal_changes_nothing(twin: TwinServer, cloud_env: dict[str, str],
                                                            run_main: RunMain, openstack: Openstack) -> None:
    code, out, err = run_main(CPU_REPO, "--yes", "--json", "--hours", "24")
    assert code == 0, err
    doc = json.loads(out)
    lease_id, before = doc["lease"]["id"], lease_end(openstack, doc["lease"]["id"])
    code, out, err = run_main("extend", doc["run_id"], "--hours", "2", "--yes", "--json")
    assert code == 0, err
    after = lease_end(openstack, lease_id)
    moved = datetime.fromisoformat(after) - datetime.fromisoformat(before)
    assert moved == timedelta(hours=2)
    assert json.loads(out)["lease"]["end"] == after[:16].replace("T", " ")
    assert "reservation lease set --prolong-for 120m" in Path(doc["log_file"]).read_text()

    # The balance cannot pay for more: Chameleon's refusal, one line, exit 15, nothing changed.
    admin(twin, "POST", "projects/CHI-000000/balance", {"left": 0})
    code, _, err = run_main("extend", doc["run_id"], "--hours", "2", "--yes")
    assert code == 15 and "would spend" in err and "not changed" in err
    assert lease_end(openstack, lease_id) == after


def test_an_extension_too_early_is_refused_here_and_by_the_twin(twin: TwinServer, cloud_env: dict[str, str],
                                                                run_main: RunMain, openstack: Openstack) -> None:
    code, out, err = run_main(CPU_REPO, "--yes", "--json", "--hours", "72")
    assert code == 0, err
    doc = json.loads(out)
    lease_id, before = doc["lease"]["id"], lease_end(openstack, doc["lease"]["id"])
    code, _, err = run_main("extend", doc["run_id"], "--hours", "2", "--yes")
    assert code == 17 and "within 48 h of its end" in err and "try again after" in err
    assert len(err.strip().splitlines()) == 1
    assert lease_end(openstack, lease_id) == before
    rc, _, cli_err = openstack("reservation", "lease", "set", "--prolong-for", "2h", lease_id, fmt=False)
    assert rc == 1 and "can only be extended within 172800 seconds" in cli_err
    assert lease_end(openstack, lease_id) == before


def test_start_books_a_pending_lease_and_the_run_proceeds_when_it_starts(
        twin: TwinServer, cloud_env: dict[str, str], run_main: RunMain, openstack: Openstack) -> None:
    start = (datetime.now(UTC) + timedelta(minutes=30)).strftime("%Y-%m-%d %H:%M")
    seen: dict[str, str] = {}

    def advance_once_pending() -> None:  # the twin's clock jumps to the start once the booking is PENDING
        for _ in range(300):
            leases = ok(openstack("reservation", "lease", "list", "-c", "id", "-c", "status")) or []
            if leases and leases[0]["status"] not in ("CREATING",):
                seen["status"] = leases[0]["status"]
                twin.clock.advance(31 * 60)
                return
            time.sleep(0.5)

    helper = threading.Thread(target=advance_once_pending)
    helper.start()
    code, out, err = run_main(CPU_REPO, "--yes", "--json", "--start", start, "--hours", "4")
    helper.join()
    assert code == 0, err
    assert seen["status"] == "PENDING" and "booked from" in err
    doc = json.loads(out)
    lease = ok(openstack("reservation", "lease", "show", doc["lease"]["id"]))
    assert lease["status"] == "ACTIVE" and lease["start_date"].startswith(start.replace(" ", "T"))
    assert doc["server"]["status"] == "ACTIVE"


def test_no_free_node_offers_the_earliest_start_and_start_earliest_takes_it(
        twin: TwinServer, cloud_env: dict[str, str], run_main: RunMain, openstack: Openstack) -> None:
    end = (datetime.now(UTC) + timedelta(hours=3)).strftime("%Y-%m-%d %H:%M")
    prop = '["==", "$node_type", "gpu_a100_nvlink"]'
    for n in range(20):  # take every gpu_a100_nvlink at CHI@UC until 15:00 + 3 h
        rc, _, err = openstack("reservation", "lease", "create", "--reservation",
                               f"min=1,max=1,resource_type=physical:host,resource_properties={prop}",
                               "--end-date", end, f"other-{n}")
        if rc != 0:
            assert "Not enough" in err
            break
    code, _, err = run_main(GPU_REPO, "--plan-only", "--node-type", "gpu_a100_nvlink")
    assert code == 10 and f"frees up at {end}" in err and "--start earliest" in err
    code, out, err = run_main(GPU_REPO, "--plan-only", "--json", "--node-type", "gpu_a100_nvlink",
                              "--start", "earliest")
    assert code == 0, err
    lease = json.loads(out)["lease"]
    assert lease["start"] == end and "earliest" in lease["reason"]


def test_a_booking_kept_after_ctrl_c_is_carried_on_by_resume(
        twin: TwinServer, cloud_env: dict[str, str], run_main: RunMain, openstack: Openstack,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from chameleon_provision.cloud import reservation_manager

    real_wait = reservation_manager.wait_active

    def interrupted(*args: object, **kwargs: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(reservation_manager, "wait_active", interrupted)
    start = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M")
    code, _, err = run_main(CPU_REPO, "--yes", "--start", start, "--keep-on-failure")
    assert code == 130 and "booked from" in err
    (lease,) = ok(openstack("reservation", "lease", "list", "-c", "id", "-c", "status"))
    assert lease["status"] == "PENDING"
    monkeypatch.setattr(reservation_manager, "wait_active", real_wait)
    (run,) = json.loads(run_main("status", "--local", "--json")[1])["runs"]

    twin.clock.advance(2 * 3600 + 60)  # the start comes
    code, out, err = run_main("resume", run["run_id"], "--yes", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["lease"]["id"] == lease["id"] and doc["server"]["status"] == "ACTIVE"
    log = Path(doc["log_file"]).read_text()
    kinds = [line.split()[1] for line in log.splitlines()]
    assert doc["ssh"]["host"] and kinds.count("ready") == 1 and " error interrupted" in log
