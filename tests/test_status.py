"""`provision status` against the cloud (commands.status): drift, other clouds, next steps, cost so far."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chameleon_provision.cloud.operations import FloatingIP, Server
from chameleon_provision.commands.status import observe, other_cloud
from chameleon_provision.errors import OpenStackError
from chameleon_provision.state.store import StateStore

UC = "CHI@UC"
AUTH = "https://chi.uc.example/v3"


class FakeCloud:
    def __init__(self, leases: list[dict[str, str]], servers: list[Server], fips: list[FloatingIP],
                 fail: bool = False) -> None:
        self._leases, self._servers, self._fips, self.fail, self.reads = leases, servers, fips, fail, 0

    def leases(self) -> list[dict[str, str]]:
        self.reads += 1
        if self.fail:
            raise OpenStackError("`openstack reservation lease list` failed: HTTP 503")
        return self._leases

    def servers(self) -> list[Server]:
        return self._servers

    def floating_ips(self) -> list[FloatingIP]:
        return self._fips


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    s = StateStore(tmp_path / "state.db")
    for run in ("r1", "r2"):
        s.new_run(run, source="./repo", commit_sha=None, site=UC, mode="provision", auth_url=AUTH,
                  project_id="P1", region=UC)
        for kind, cid in (("lease", f"L-{run}"), ("server", f"S-{run}"), ("floating_ip", f"F-{run}")):
            s.mark(s.intend(run, kind, f"{kind}-{run}", UC, {"address": "192.5.87.10"} if kind == "floating_ip"
                            else None), "created", cloud_id=cid)
        s.update_run(run, status="ready", plan_json=json.dumps({"cost": {"su_per_hour": 2.0, "hours": 10,
                                                                         "su_total": 20.0}}))
    return s


def look(store: StateStore, cloud: FakeCloud, *, auth: str = AUTH, project: str = "P1") -> dict[str, Any]:
    views = observe(store, store.runs(), lambda _site: cloud, lambda _site: {"OS_AUTH_URL": auth},
                    lambda _site: project)
    return {v.run.run_id: v for v in views}


def healthy(*runs: str) -> FakeCloud:
    return FakeCloud([{"id": f"L-{r}", "status": "ACTIVE"} for r in runs],
                     [Server(f"S-{r}", "s", "ACTIVE", {}) for r in runs],
                     [FloatingIP(f"F-{r}", "192.5.87.10", "port") for r in runs])


def test_a_healthy_run_has_no_drift_and_one_read_per_site(store: StateStore) -> None:
    cloud = healthy("r1", "r2")
    views = look(store, cloud)
    assert cloud.reads == 1
    for view in views.values():
        assert view.checked and view.drift == [] and view.cloud == {"lease": "ACTIVE", "server": "ACTIVE",
                                                                     "address": "192.5.87.10 attached"}
        assert view.cost and view.cost["su_total"] == 20.0 and 0 <= view.cost["su_so_far"] <= 20.0


def test_a_server_deleted_by_hand_and_an_ended_lease_are_drift_with_a_next_step(store: StateStore) -> None:
    cloud = healthy("r1", "r2")
    cloud._servers = [s for s in cloud._servers if s.id != "S-r1"]
    cloud._leases[1]["status"] = "TERMINATED"
    views = look(store, cloud)
    assert views["r1"].cloud["server"] == "gone" and "deleted outside this tool" in views["r1"].drift[0]
    assert views["r1"].next_step.startswith("provision destroy r1")
    assert any("TERMINATED" in d for d in views["r2"].drift)


def test_server_in_error_and_a_detached_address(store: StateStore) -> None:
    cloud = healthy("r1")
    cloud._servers = [Server("S-r1", "s", "ERROR", {})]
    cloud._fips = [FloatingIP("F-r1", "192.5.87.10", None)]
    drift = look(store, cloud)["r1"].drift
    assert "the server is in ERROR" in drift and any("no longer attached" in d for d in drift)


def test_a_run_of_another_cloud_or_project_is_not_queried(store: StateStore) -> None:
    cloud = healthy("r1", "r2")
    views = look(store, cloud, auth="https://elsewhere/v3")
    assert cloud.reads == 0 and all("belongs to https://chi.uc.example/v3" in v.drift[0] for v in views.values())
    views = look(store, cloud, project="P2")
    assert cloud.reads == 0 and "belongs to project P1" in views["r1"].drift[0]


def test_an_unreadable_site_says_so_instead_of_guessing(store: StateStore) -> None:
    views = look(store, FakeCloud([], [], [], fail=True))
    assert not views["r1"].checked and "could not read CHI@UC" in views["r1"].drift[0]


def test_finished_runs_are_not_queried(store: StateStore) -> None:
    store.update_run("r1", status="destroyed")
    store.update_run("r2", status="destroyed")
    cloud = healthy()
    assert all(not v.checked for v in look(store, cloud).values()) and cloud.reads == 0


def test_other_cloud_needs_both_sides_to_differ() -> None:
    from chameleon_provision.state.store import RunRecord

    run = RunRecord("r", "2026-01-01T00:00:00Z", "s", None, UC, "provision", "ready", None, None, auth_url=AUTH)
    assert other_cloud(run, {"OS_AUTH_URL": AUTH}) is None
    assert other_cloud(run, {}) is None  # OS_CLOUD profiles carry no URL here
    assert "belongs to" in (other_cloud(run, {"OS_AUTH_URL": "https://x/v3"}) or "")
