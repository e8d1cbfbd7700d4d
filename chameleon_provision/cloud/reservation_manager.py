"""The Blazar lease: creating it and waiting for ACTIVE (its length is decided in decisions.lease)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from chameleon_provision.cloud.operations import Cloud, Lease
from chameleon_provision.cloud.polling import wait_for_status
from chameleon_provision.errors import AllocationExceeded, NoCapacityError, OpenStackError, ProvisioningFailed
from chameleon_provision.models import LeaseWindow
from chameleon_provision.state.recorder import Recorder

# The balance service's refusal: "Reservation for project X would spend N SUs, only M left"
_SU_REFUSAL = re.compile(r"[^:]*would spend [\d.]+ SUs?, only [-\d.]+ left")
LEASE_DEAD = ("ERROR", "TERMINATING", "TERMINATED", "DELETING")


def create_lease(cloud: Cloud, recorder: Recorder, *, name: str, site: str, resource_properties: Any,
                 lease: LeaseWindow) -> Lease:
    try:  # outside `creating`, so the recorder sees the CLI's error and marks the row failed
        with recorder.creating("lease", name, site, {"resource_properties": resource_properties}) as confirm:
            created = cloud.lease_create(name=name, resource_properties=resource_properties,
                                         start=lease.start, end=lease.end)
            confirm(created.id, end=lease.end)
    except OpenStackError as exc:
        if "Not enough" in exc.message:
            raise NoCapacityError(f"Blazar at {site} refused the lease: {exc.message.split(': ', 1)[-1]}") from exc
        if refusal := _SU_REFUSAL.search(exc.message):
            raise AllocationExceeded(f"{site} refused the lease: {refusal.group(0).strip()}",
                                     hint="a shorter --hours or a cheaper --node-type costs fewer SUs") from exc
        raise
    return created


def wait_active(cloud: Cloud, lease: Lease, *, timeout: float, poll: float,
                progress: Callable[[str], None]) -> Lease:
    def failed(current: Lease) -> ProvisioningFailed:
        return ProvisioningFailed(f"lease {lease.name} went {current.status} before it was usable",
                                  hint="retry; Chameleon leases fail to start when a node is unhealthy")

    # Blazar's statuses: PENDING, CREATING, STARTING and UPDATING are on the way; TERMINATING, DELETING,
    # TERMINATED and ERROR mean this lease will never host the server (blazar/status.py).
    active = wait_for_status(lambda: cloud.lease_show(lease.id), label=f"lease {lease.name}", ready="ACTIVE",
                             failed=LEASE_DEAD, timeout=timeout, poll=poll,
                             progress=progress, on_failed=failed)
    if not active.host_reservation_id:
        raise ProvisioningFailed(f"lease {lease.id} is ACTIVE but has no physical:host reservation")
    return active
