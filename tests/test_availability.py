"""Free hosts over a lease window, from Blazar's hosts and allocations (decisions.availability)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from chameleon_provision.cloud.operations import Cloud
from chameleon_provision.decisions.availability import check, failover_order, first_available, load_site_hosts
from chameleon_provision.decisions.hardware_rules import NodeCandidate
from chameleon_provision.models import NodeRecord

UC, TACC = "CHI@UC", "CHI@TACC"
START, END = datetime(2026, 8, 1, 12, 0), datetime(2026, 8, 1, 20, 0)


def node(uid: str, node_type: str = "gpu_rtx_6000", site: str = UC, gpus: int = 1,
         model: str = "TU102GL [Quadro RTX 6000/8000]") -> NodeRecord:
    return NodeRecord(site=site, uid=uid, node_name=uid, node_type=node_type, arch="x86_64", cpu_model="Xeon",
                      cpu_threads=48, ram_gb=192, gpu_vendor="nvidia" if gpus else "none",
                      gpu_model=model if gpus else "", gpu_count=gpus, gpu_memory_gb=24 if gpus else 0)


def candidate(hw: NodeRecord) -> NodeCandidate:
    return NodeCandidate(hw.site, hw.node_type, ("==", "$node_type", hw.node_type), hw, 1, (), "")


def host(host_id: str, uid: str, *, reservable: Any = True, disabled: Any = False) -> dict[str, Any]:
    return {"id": host_id, "hypervisor_hostname": uid, "node_type": "x", "reservable": reservable,
            "disabled": disabled}


def busy(host_id: str, start: str | None = "2026-08-01T10:00:00.000000",
         end: str | None = "2026-08-02T10:00:00.000000") -> dict[str, Any]:
    return {"resource_id": host_id, "reservations": [{"id": "r", "lease_id": "l", "start_date": start,
                                                      "end_date": end}]}


class FakeCloud:
    """Stands in for cloud.operations.Cloud: only the two Blazar listings availability reads."""

    def __init__(self, hosts: Sequence[Mapping[str, Any]], allocations: Sequence[Mapping[str, Any]] = ()) -> None:
        self._hosts, self._allocations = list(hosts), list(allocations)

    def hosts(self) -> list[Mapping[str, Any]]:
        return self._hosts

    def allocations(self) -> list[Mapping[str, Any]]:
        return self._allocations


NODES = [node("n1"), node("n2"), node("n3")]


def test_free_hosts_exclude_those_with_a_reservation_overlapping_the_window() -> None:
    cloud = FakeCloud([host("1", "n1"), host("2", "n2"), host("3", "n3")], [busy("2")])
    result = check(candidate(NODES[0]), load_site_hosts(cloud, NODES), START, END)
    assert (result.free_hosts, result.total_hosts, result.next_free) == (2, 3, None)


def test_disabled_unreservable_and_unknown_blazar_hosts_are_not_counted() -> None:
    cloud = FakeCloud([host("1", "n1"), host("2", "n2", reservable="False"), host("3", "n3", disabled="True"),
                       host("9", "not-in-discovery")])
    result = check(candidate(NODES[0]), load_site_hosts(cloud, NODES), START, END)
    assert (result.free_hosts, result.total_hosts) == (1, 1)


def test_reservations_touching_the_window_edges_do_not_make_a_host_busy() -> None:
    ends_at_start = busy("1", "2026-08-01T08:00:00.000000", "2026-08-01T12:00:00.000000")
    starts_at_end = busy("2", "2026-08-01T20:00:00.000000", "2026-08-02T20:00:00.000000")
    cloud = FakeCloud([host("1", "n1"), host("2", "n2")], [ends_at_start, starts_at_end])
    result = check(candidate(NODES[0]), load_site_hosts(cloud, NODES[:2]), START, END)
    assert result.free_hosts == 2


def test_allocation_without_dates_counts_as_busy() -> None:
    cloud = FakeCloud([host("1", "n1")], [busy("1", None, None)])
    result = check(candidate(NODES[0]), load_site_hosts(cloud, NODES[:1]), START, END)
    assert result.free_hosts == 0 and result.total_hosts == 1


def test_when_all_hosts_are_busy_next_free_is_the_earliest_reservation_end() -> None:
    cloud = FakeCloud([host("1", "n1"), host("2", "n2")],
                      [busy("1", end="2026-08-03T09:00:00.000000"), busy("2", end="2026-08-02T07:30:00.000000")])
    result = check(candidate(NODES[0]), load_site_hosts(cloud, NODES[:2]), START, END)
    assert result.free_hosts == 0
    assert result.next_free == datetime(2026, 8, 2, 7, 30)


def test_only_hosts_of_the_candidates_gpu_variant_count() -> None:
    model = "GA100 [A100 PCIe 40GB]"
    one_gpu, two_gpu = node("a", "compute_liqid", TACC, 1, model), node("b", "compute_liqid", TACC, 2, model)
    cloud = FakeCloud([host("1", "a"), host("2", "b")], [busy("1")])
    hosts = load_site_hosts(cloud, [one_gpu, two_gpu])
    assert check(candidate(one_gpu), hosts, START, END).free_hosts == 0
    assert check(candidate(two_gpu), hosts, START, END).free_hosts == 1


def test_failover_order_is_chosen_then_same_site_then_other_sites_in_rank_order() -> None:
    a, b = candidate(node("a", "gpu_rtx_6000")), candidate(node("b", "gpu_a100_pcie"))
    c, d = candidate(node("c", "compute_liqid", TACC)), candidate(node("d", "gpu_v100"))
    assert failover_order([c, a, b, d], b) == [b, a, d, c]


def test_first_available_stops_at_the_first_candidate_with_a_free_host() -> None:
    rtx, a100, tacc = node("n1"), node("n2", "gpu_a100_pcie"), node("t1", "gpu_p100", TACC)
    sites = {UC: load_site_hosts(FakeCloud([host("1", "n1"), host("2", "n2")], [busy("1")]),
                                 [rtx, a100]),
             TACC: load_site_hosts(FakeCloud([host("7", "t1")]), [tacc])}
    asked: list[str] = []

    def hosts_for(site: str):
        asked.append(site)
        return sites[site]

    found, checked = first_available([candidate(rtx), candidate(a100), candidate(tacc)], hosts_for, START, END)
    assert found is not None and found.candidate.node_type == "gpu_a100_pcie"
    assert [r.free_hosts for r in checked] == [0, 1]
    assert asked == [UC, UC]  # TACC was never queried


def test_first_available_reports_every_candidate_when_none_is_free() -> None:
    hosts = load_site_hosts(FakeCloud([host("1", "n1")], [busy("1")]), [node("n1")])
    found, checked = first_available([candidate(node("n1"))], lambda _s: hosts, START, END)
    assert found is None and len(checked) == 1 and checked[0].next_free == datetime(2026, 8, 2, 10, 0)


class SampleRunner:
    """An OpenStackRunner answering from the real CLI output recorded in ../shared."""

    def __init__(self, cli: Path) -> None:
        self.cli, self.calls, self.argv = cli, 0, []

    def run(self, args: Sequence[str], *, output: str = "json", timeout: float | None = None) -> Any:
        self.calls += 1
        self.argv.append(list(args))
        name = "host_list" if args[:3] == ["reservation", "host", "list"] else "allocation_list_host"
        return json.loads((self.cli / f"{name}.stdout.txt").read_text())


def test_real_cli_records_through_cloud_give_busy_then_free(shared_dir: Path) -> None:
    cli = shared_dir / "chameleon-samples" / "cli"
    if not cli.is_dir():
        pytest.skip("../shared/chameleon-samples/cli is not present")
    runner = SampleRunner(cli)
    hw = node("03129bbe-330c-4591-bc17-96d7e15d3e74")
    hosts = load_site_hosts(Cloud(runner), [hw])
    during = check(candidate(hw), hosts, START, END)
    after = check(candidate(hw), hosts, datetime(2026, 8, 2, 10, 0), datetime(2026, 8, 2, 18, 0))
    assert (during.free_hosts, during.total_hosts, during.next_free) == (0, 1, datetime(2026, 8, 2, 10, 0))
    assert after.free_hosts == 1
    assert "reservable" in runner.argv[0]  # the default columns would hide the reservable flag
