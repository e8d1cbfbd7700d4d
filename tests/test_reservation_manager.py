"""The Blazar lease adapter (cloud.reservation_manager): refusals, the record of each create, lease statuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chameleon_provision.cloud.operations import Lease, Reservation
from chameleon_provision.cloud.reservation_manager import create_lease, wait_active
from chameleon_provision.errors import AllocationExceeded, NoCapacityError, OpenStackError, ProvisioningFailed
from chameleon_provision.models import LeaseWindow
from chameleon_provision.state.recorder import Recorder
from chameleon_provision.state.store import StateStore

WINDOW = LeaseWindow(start="now", end="2026-12-04 10:00", hours=24)
HOST = (Reservation("R1", "physical:host", "active"),)


class FakeCloud:
    def __init__(self, error: OpenStackError | None = None, statuses: tuple[str, ...] = ("ACTIVE",)) -> None:
        self.error, self.statuses = error, list(statuses)

    def lease_create(self, **_kw: Any) -> Lease:
        if self.error:
            raise self.error
        return Lease("L1", "run-lease", "PENDING", "", "", HOST)

    def lease_show(self, lease_id: str) -> Lease:
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return Lease(lease_id, "run-lease", status, "", "", HOST)


@pytest.fixture
def recorder(tmp_path: Path) -> Recorder:
    store = StateStore(tmp_path / "state.db")
    store.new_run("r1", source="./repo", commit_sha=None, site="CHI@UC", mode="provision")
    return Recorder(store, "r1")


def test_created_lease_is_recorded_with_its_id(recorder: Recorder) -> None:
    lease = create_lease(FakeCloud(), recorder, name="run-lease", site="CHI@UC",  # type: ignore[arg-type]
                         resource_properties=["==", "$node_type", "compute_skylake"], lease=WINDOW)
    [row] = recorder.store.resources("r1")
    assert (lease.id, row.cloud_id, row.status) == ("L1", "L1", "created")


def test_capacity_refusal_is_no_capacity_and_the_record_says_failed(recorder: Recorder) -> None:
    refused = OpenStackError("Not enough resources available with query [...]", returncode=1)
    with pytest.raises(NoCapacityError, match="Blazar at CHI@UC refused the lease"):
        create_lease(FakeCloud(refused), recorder, name="run-lease", site="CHI@UC",  # type: ignore[arg-type]
                     resource_properties=[], lease=WINDOW)
    [row] = recorder.store.resources("r1")
    assert row.status == "failed" and not row.live


class AddressRefusingCloud(FakeCloud):
    """Blazar's floating IP plugin refuses the reserved address; the node alone is fine."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str | None] = []

    def lease_create(self, **kw: Any) -> Lease:
        self.calls.append(kw.get("address_network_id"))
        if kw.get("address_network_id"):
            raise OpenStackError("ERROR: Not enough floating IPs available", returncode=1)
        return super().lease_create(**kw)


def test_an_empty_reserved_pool_is_not_a_capacity_refusal(recorder: Recorder) -> None:
    cloud, said = AddressRefusingCloud(), []
    lease = create_lease(cloud, recorder, name="run-lease", site="CHI@UC",  # type: ignore[arg-type]
                         resource_properties=[], lease=WINDOW, address_network_id="PUBLIC", progress=said.append)
    assert lease.id == "L1" and cloud.calls == ["PUBLIC", None]
    assert "Not enough floating IPs available" in said[0] and "ad hoc address" in said[0]


def test_service_unit_refusal_names_both_figures_and_its_own_exit_code(recorder: Recorder) -> None:
    refused = OpenStackError("ERROR: Reservation for project CHI-1 would spend 336.0 SUs, only 20.5 left",
                             returncode=1)
    with pytest.raises(AllocationExceeded, match=r"would spend 336.0 SUs, only 20.5 left") as info:
        create_lease(FakeCloud(refused), recorder, name="run-lease", site="CHI@UC",  # type: ignore[arg-type]
                     resource_properties=[], lease=WINDOW)
    assert info.value.exit_code == 15
    assert [r.status for r in recorder.store.resources("r1")] == ["failed"]


@pytest.mark.parametrize("status", ["CREATING", "STARTING", "UPDATING"])
def test_transitional_statuses_are_waited_out(status: str) -> None:
    cloud = FakeCloud(statuses=("PENDING", status, "ACTIVE"))
    lease = wait_active(cloud, Lease("L1", "run-lease", "PENDING", "", "", HOST),  # type: ignore[arg-type]
                        timeout=5, poll=0, progress=lambda _m: None)
    assert lease.status == "ACTIVE" and lease.host_reservation_id == "R1"


@pytest.mark.parametrize("status", ["ERROR", "TERMINATING", "TERMINATED", "DELETING"])
def test_a_dying_lease_ends_the_wait(status: str) -> None:
    with pytest.raises(ProvisioningFailed, match=f"went {status}"):
        wait_active(FakeCloud(statuses=("PENDING", status)),  # type: ignore[arg-type]
                    Lease("L1", "run-lease", "PENDING", "", "", HOST), timeout=5, poll=0, progress=lambda _m: None)
