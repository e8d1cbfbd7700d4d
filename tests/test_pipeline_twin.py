"""End to end: `provision` drives the real `openstack` CLI against an in-process twin.

Nothing here mocks the subprocess: each step below is the real CLI talking HTTP to the twin.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import Openstack, RunMain, admin, ok

import provision
from chameleon_twin.server import TwinServer

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[1]
GPU_REPO = str(ROOT / "examples" / "pytorch-gpu-24gb")
CPU_REPO = str(ROOT / "examples" / "pandas-sklearn")


def live_resources(twin: TwinServer) -> dict[str, list]:
    """Leases still holding hosts, servers, floating IPs and keypairs, across every site."""
    state = twin.state()
    out: dict[str, list] = {"leases": [], "servers": [], "floating_ips": [], "keypairs": []}
    for site in state["sites"].values():
        out["leases"] += [lease["id"] for lease in site["blazar"]["leases"] if lease["holds_resources"]]
        out["servers"] += [s["id"] for s in site["servers"]]
        out["floating_ips"] += [f["id"] for f in site["floating_ips"]]
        out["keypairs"] += [k["name"] for k in site["keypairs"]]
    return out


def test_plan_only_gpu_repo_gets_24gb_nvidia_and_cuda_and_creates_nothing(
        twin: TwinServer, cloud_env: dict[str, str], run_main: RunMain) -> None:
    before = live_resources(twin)
    code, out, err = run_main(GPU_REPO, "--plan-only", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["schema_version"] == 1 and doc["mode"] == "plan"
    hw = doc["resource"]["hardware"]
    assert hw["gpu_vendor"] == "nvidia" and hw["gpu_memory_gb"] >= 24
    assert "CUDA" in doc["image"]["name"]
    assert doc["requirements"]["decided_by"] == "rules"
    assert {doc["image"]["decided_by"], doc["resource"]["decided_by"], doc["lease"]["decided_by"]} == {"rules"}
    assert doc["resource"]["available_hosts"] > 0
    assert doc["stats"]["openstack_calls"] > 0 and doc["stats"]["ai_calls"] == 0
    assert live_resources(twin) == before  # --plan-only leaves the cloud exactly as it was


def test_plan_only_optional_gpu_plans_cpu_and_prefer_gpu_turns_it_around(
        tmp_path: Path, cloud_env: dict[str, str], run_main: RunMain) -> None:
    (tmp_path / "requirements.txt").write_text("--extra-index-url https://download.pytorch.org/whl/cu121\ntorch\n")
    (tmp_path / "README.md").write_text("# tool\n\nRun it on CPU:\n\n```\npython run.py --device cpu\n```\n")
    code, out, err = run_main(str(tmp_path), "--plan-only", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["resource"]["hardware"]["gpu_count"] == 0
    assert "--prefer-gpu" in doc["requirements"]["reason"] and "--prefer-gpu" in doc["resource"]["reason"]
    code, out, err = run_main(str(tmp_path), "--plan-only", "--prefer-gpu", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["resource"]["hardware"]["gpu_count"] >= 1 and "CUDA" in doc["image"]["name"]


def test_plan_only_cpu_repo_gets_cpu_node_and_plain_image(cloud_env: dict[str, str], run_main: RunMain) -> None:
    code, out, err = run_main(CPU_REPO, "--plan-only", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["resource"]["hardware"]["gpu_count"] == 0
    name = doc["image"]["name"]
    assert not any(v in name for v in ("CUDA", "ROCm", "ARM64"))


def test_full_run_then_destroy_leaves_nothing(twin: TwinServer, cloud_env: dict[str, str], run_main: RunMain,
                                              openstack: Openstack) -> None:
    code, out, err = run_main(GPU_REPO, "--yes", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["mode"] == "provision" and doc["server"]["status"] == "ACTIVE"
    assert doc["ssh_command"].endswith(f"cc@{doc['floating_ip']}")
    # What the real CLI sees: the server ACTIVE on the reservation, with exactly our address attached.
    server = ok(openstack("server", "show", doc["server"]["id"]))
    assert server["status"] == "ACTIVE"
    assert doc["floating_ip"] in json.dumps(server["addresses"])
    lease = ok(openstack("reservation", "lease", "show", doc["lease"]["id"]))
    assert lease["status"] == "ACTIVE" and doc["reservation_id"] in lease["reservations"]
    assert doc["reservation_id"] != doc["lease"]["id"]
    # The address was reserved in the lease (Chameleon's advice) and carries the reservation's tag.
    assert doc["floating_ip_plan"]["action"] == "reserve" and "virtual:floatingip" in lease["reservations"]
    fip = ok(openstack("floating", "ip", "show", doc["floating_ip"]))
    assert any(tag.startswith("reservation:") for tag in fip["tags"])

    code, out, err = run_main("status", "--json")
    (run,) = [r for r in json.loads(out)["runs"] if r["run_id"] == doc["run_id"]]
    assert run["status"] == "ready" and run["ssh_command"] == doc["ssh_command"]

    code, out, err = run_main("destroy", doc["run_id"], "--yes", "--json")
    assert code == 0, err
    # The server and the lease; the address was reserved in the lease, and Blazar removes it with the lease.
    assert [r.split()[0] for r in json.loads(out)["removed"]] == ["server", "lease"]
    left = live_resources(twin)
    assert (left["leases"], left["servers"], left["floating_ips"]) == ([], [], [])


def test_failure_after_the_lease_cleans_up(twin: TwinServer, cloud_env: dict[str, str], run_main: RunMain) -> None:
    admin(twin, "POST", "faults", {"method": "POST", "path": "/uc/compute/v2.1/servers", "status": 500,
                                   "count": 1})
    code, _, err = run_main(CPU_REPO, "--yes")
    assert code == 5
    assert "removed after the failure: lease" in err
    left = live_resources(twin)
    assert (left["leases"], left["servers"], left["floating_ips"]) == ([], [], [])


def test_json_failure_document_says_how_far_the_run_got(twin: TwinServer, cloud_env: dict[str, str],
                                                       run_main: RunMain) -> None:
    admin(twin, "POST", "faults", {"method": "POST", "path": "/uc/compute/v2.1/servers", "status": 500,
                                   "count": 1})
    code, out, _ = run_main(CPU_REPO, "--yes", "--json")
    doc = json.loads(out)
    assert code == 5 and doc["error"]["exit_code"] == 5
    assert doc["run_id"] and doc["decisions"]["resource"]["node_type"] and doc["decisions"]["lease"]["hours"]
    assert any(r.startswith("lease ") for r in doc["removed"]) and doc["left"] == []


def test_yes_does_not_approve_a_plan_over_the_su_ceiling(twin: TwinServer, cloud_env: dict[str, str],
                                                         run_main: RunMain) -> None:
    """A week on a GPU node is 336 SU: --yes alone refuses it, naming the cost and why; --max-su lets it pass."""
    before = live_resources(twin)
    code, out, err = run_main(GPU_REPO, "--yes", "--hours", "168", "--json")
    assert code == 13, err
    doc = json.loads(out)
    assert "SU ceiling" in doc["error"]["message"] and "168 h" in doc["error"]["message"]
    assert "--max-su" in doc["error"]["hint"] and doc["decisions"]["cost"]["su_total"] > 100
    assert live_resources(twin) == before
    code, out, err = run_main(GPU_REPO, "--plan-only", "--hours", "168", "--json")
    assert code == 0 and json.loads(out)["cost"]["su_total"] == 168 * json.loads(out)["cost"]["su_per_hour"]


def test_a_168_hour_lease_is_accepted(twin: TwinServer, cloud_env: dict[str, str], run_main: RunMain) -> None:
    code, out, err = run_main(CPU_REPO, "--yes", "--hours", "168", "--max-su", "1000", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["lease"]["hours"] == 168 and doc["server"]["status"] == "ACTIVE"
    code, _, err = run_main(CPU_REPO, "--plan-only", "--hours", "169")
    assert code == 2 and "169" in err


def test_status_asks_the_cloud_and_destroy_refuses_another_cloud(twin: TwinServer, cloud_env: dict[str, str],
                                                                 run_main: RunMain, openstack: Openstack,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run_main(CPU_REPO, "--yes", "--json")
    assert code == 0, err
    doc = json.loads(out)
    ok(openstack("server", "delete", doc["server"]["id"], fmt=False))  # by hand, outside the tool
    code, out, err = run_main("status", doc["run_id"], "--json")
    (view,) = json.loads(out)["runs"]
    assert view["checked_with_cloud"] and view["cloud"]["server"] == "gone"
    assert "deleted outside this tool" in view["drift"][0] and view["next"].startswith("provision destroy")
    code, out, _ = run_main("status", "--local", "--json")
    assert not json.loads(out)["runs"][0]["checked_with_cloud"]

    # The environment now points at another cloud (the TACC site's Keystone): destroy refuses, deletes nothing.
    monkeypatch.setenv("OS_AUTH_URL", twin.env("CHI@TACC")["OS_AUTH_URL"])
    monkeypatch.setenv("PROVISION_SITE_AUTH_URLS", f"CHI@UC={twin.env('CHI@TACC')['OS_AUTH_URL']}")
    code, out, err = run_main("destroy", doc["run_id"], "--yes", "--json")
    assert code == 3 and "belongs to" in json.loads(out)["error"]["message"]
    assert live_resources(twin)["leases"], "nothing may be deleted from the wrong cloud"
    monkeypatch.setenv("OS_AUTH_URL", cloud_env["OS_AUTH_URL"])
    monkeypatch.setenv("PROVISION_SITE_AUTH_URLS", cloud_env["PROVISION_SITE_AUTH_URLS"])
    code, out, err = run_main("destroy", doc["run_id"], "--yes", "--json")
    assert code == 0, err
    assert (live_resources(twin)["leases"], live_resources(twin)["servers"]) == ([], [])


def test_passing_503s_on_reads_and_polls_are_ridden_out(twin: TwinServer, cloud_env: dict[str, str],
                                                         run_main: RunMain) -> None:
    """Two 503s on the Blazar host list and one 502 on a server poll: the run still ends ready."""
    admin(twin, "POST", "faults", {"method": "GET", "path": "/uc/reservation/v1/os-hosts", "status": 503, "count": 2})
    admin(twin, "POST", "faults", {"method": "GET", "path": "/uc/compute/v2.1/servers/detail", "status": 502,
                                   "count": 1})
    code, out, err = run_main(CPU_REPO, "--yes", "--json")
    assert code == 0, err
    assert json.loads(out)["server"]["status"] == "ACTIVE"


def test_a_lasting_503_names_the_service_not_html(twin: TwinServer, cloud_env: dict[str, str],
                                                  run_main: RunMain) -> None:
    admin(twin, "POST", "faults", {"method": "GET", "path": "/uc/reservation/v1/os-hosts", "status": 503,
                                   "count": 20})
    code, _, err = run_main(CPU_REPO, "--plan-only")
    assert code == 5 and "Blazar answered HTTP 503" in err and "<" not in err


class Killed(BaseException):
    """Stands in for kill -9: no handler runs, nothing is cleaned up."""


def test_a_killed_run_is_resumed_and_the_same_name_reuses_it(twin: TwinServer, cloud_env: dict[str, str],
                                                             run_main: RunMain, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    from chameleon_provision.cloud import server_launcher

    real_wait = server_launcher.wait_active

    def killed(*args: object, **kwargs: object) -> object:
        raise Killed

    monkeypatch.setattr(server_launcher, "wait_active", killed)
    with pytest.raises(Killed):
        provision.main([CPU_REPO, "--yes", "--name", "exp-1"])
    monkeypatch.setattr(server_launcher, "wait_active", real_wait)
    capsys.readouterr()
    (run,) = json.loads(run_main("status", "--local", "--json")[1])["runs"]
    assert run["status"] == "started" and len(live_resources(twin)["servers"]) == 1

    code, out, err = run_main(CPU_REPO, "--yes", "--name", "exp-1", "--json")  # the same command again
    assert code == 0, err
    doc = json.loads(out)
    assert doc["run_id"] == run["run_id"] and doc["resumed"] and "continuing it" in err
    left = live_resources(twin)
    assert (len(left["leases"]), len(left["servers"])) == (1, 1)  # taken up, not made again
    code, out, err = run_main("resume", run["run_id"], "--yes", "--json")
    assert code == 0 and json.loads(out)["server"]["id"] == doc["server"]["id"]
    code, out, err = run_main(CPU_REPO, "--yes", "--name", "exp-1", "--new", "--plan-only", "--json")
    assert code == 0 and json.loads(out)["run_id"] != run["run_id"]
    assert run_main("destroy", run["run_id"], "--yes")[0] == 0
    assert live_resources(twin)["servers"] == []


def test_a_server_that_goes_error_is_rebuilt_once_on_the_same_lease(twin: TwinServer, cloud_env: dict[str, str],
                                                                    run_main: RunMain,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from chameleon_provision.cloud import server_launcher

    real_launch = server_launcher.launch
    launched: list[str] = []

    def first_one_fails(*args: object, **kwargs: object) -> object:
        server = real_launch(*args, **kwargs)  # type: ignore[arg-type]
        launched.append(server.id)
        if len(launched) == 1:
            admin(twin, "POST", f"servers/{server.id}/error", {"message": "Failure prepping block device."})
        return server

    monkeypatch.setattr(server_launcher, "launch", first_one_fails)
    code, out, err = run_main(CPU_REPO, "--yes", "--json")
    assert code == 0, err
    assert len(launched) == 2 and "trying once more on the same reservation" in err
    left = live_resources(twin)
    assert (len(left["leases"]), left["servers"]) == (1, [json.loads(out)["server"]["id"]])


def test_pinned_type_without_capacity_is_exit_10(twin: TwinServer, cloud_env: dict[str, str],
                                                 run_main: RunMain) -> None:
    admin(twin, "POST", "exhaust", {"site": "CHI@UC", "node_type": "gpu_a100_nvlink"})
    code, _, err = run_main(GPU_REPO, "--plan-only", "--node-type", "gpu_a100_nvlink")
    assert code == 10
    assert "no free node" in err and "gpu_a100_nvlink" in err


def test_unknown_pins_are_input_errors(cloud_env: dict[str, str], run_main: RunMain) -> None:
    code, _, err = run_main(CPU_REPO, "--plan-only", "--node-type", "gpu_rtx_9999")
    assert code == 2 and "does not exist" in err
    code, _, err = run_main(GPU_REPO, "--plan-only", "--image", "CC-Ubuntu22.04")
    assert code == 2 and "cannot boot" in err


def test_wrong_password_and_unreachable_cloud(cloud_env: dict[str, str], run_main: RunMain,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OS_PASSWORD", "wrong")
    code, _, err = run_main(CPU_REPO, "--plan-only")
    assert code == 3 and "Keystone refused" in err and "wrong" not in err
    monkeypatch.setenv("OS_AUTH_URL", "http://127.0.0.1:9/v3")
    monkeypatch.setenv("PROVISION_SITE_AUTH_URLS", "CHI@UC=http://127.0.0.1:9/v3")
    code, _, err = run_main(CPU_REPO, "--plan-only")
    assert code == 6 and "cannot reach the cloud" in err


def test_ctrl_c_during_boot_removes_everything_and_exits_130(
        twin: TwinServer, cloud_env: dict[str, str], run_main: RunMain,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from chameleon_provision.cloud import server_launcher

    real_wait = server_launcher.wait_active

    def interrupted(*args: object, **kwargs: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(server_launcher, "wait_active", interrupted)
    code, _, err = run_main(CPU_REPO, "--yes")
    assert code == 130
    assert "removed after the failure: server" in err and "nothing was left behind" in err
    left = live_resources(twin)
    assert (left["leases"], left["servers"], left["floating_ips"]) == ([], [], [])
    monkeypatch.setattr(server_launcher, "wait_active", real_wait)


def test_keep_on_failure_keeps_and_destroy_removes(twin: TwinServer, cloud_env: dict[str, str],
                                                   run_main: RunMain) -> None:
    admin(twin, "POST", "faults", {"method": "PUT", "path": "/uc/network/v2.0/floatingips/", "status": 500,
                                   "count": 1})  # attaching the address fails
    code, _, err = run_main(CPU_REPO, "--yes", "--keep-on-failure")
    assert code == 5 and "--keep-on-failure" in err
    left = live_resources(twin)
    assert len(left["leases"]) == 1 and len(left["servers"]) == 1
    code, out, _ = run_main("status", "--json")
    run = json.loads(out)["runs"][0]
    assert run["status"] == "failed"
    code, out, err = run_main("destroy", run["run_id"], "--yes", "--json")
    assert code == 0, err
    left = live_resources(twin)
    assert (left["leases"], left["servers"], left["floating_ips"]) == ([], [], [])


def test_unreachable_repository_host_is_exit_4_and_creates_nothing(
        twin: TwinServer, cloud_env: dict[str, str], run_main: RunMain) -> None:
    before = live_resources(twin)
    code, _, err = run_main("https://127.0.0.1:9/owner/repo", "--yes")
    assert code == 4 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert live_resources(twin) == before


def test_amd_repository_moves_to_the_site_that_has_amd_gpus(cloud_env: dict[str, str], run_main: RunMain) -> None:
    code, out, err = run_main(str(ROOT / "tests/fixtures/repos/rocm_torch"), "--plan-only", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["resource"]["site"] == "CHI@TACC" and doc["resource"]["hardware"]["gpu_vendor"] == "amd"
    assert "ROCm" in doc["image"]["name"]


def test_busy_type_fails_over_to_the_next_adequate_type(twin: TwinServer, cloud_env: dict[str, str],
                                                        run_main: RunMain) -> None:
    admin(twin, "POST", "exhaust", {"site": "CHI@UC", "node_type": "gpu_rtx_6000"})  # undone by the next reset
    code, out, err = run_main(GPU_REPO, "--plan-only", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["resource"]["node_type"] != "gpu_rtx_6000"
    assert doc["resource"]["hardware"]["gpu_memory_gb"] >= 24
    assert "failover" in doc["resource"]["reason"]
    assert any("gpu_rtx_6000" in note for note in doc["notes"])


def test_secrets_never_reach_output_logs_or_state(twin: TwinServer, cloud_env: dict[str, str],
                                                  run_main: RunMain, isolated_env: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-never-shown")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # unreachable: the rules decide
    code, out, err = run_main(CPU_REPO, "--yes", "--json", "-vv")
    assert code == 0, err
    run_id = json.loads(out)["run_id"]
    state = b"".join(p.read_bytes() for p in (isolated_env / "state").rglob("*") if p.is_file())
    for secret in (cloud_env["OS_PASSWORD"], "sk-never-shown"):
        assert secret not in out and secret not in err
        assert secret.encode() not in state
    run_main("destroy", run_id, "--yes")
