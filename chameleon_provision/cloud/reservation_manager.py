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
# Blazar's floating IP plugin: "Not enough floating IPs available" (and the like for the reserved pool)
_ADDRESS_REFUSAL = re.compile(r"(?i)(not enough|no more|insufficient)[^.]*floating ?ips?"
                              r"|floating ?ips?[^.]*(quota|exhausted)")
LEASE_DEAD = ("ERROR", "TERMINATING", "TERMINATED", "DELETING")


def create_lease(cloud: Cloud, recorder: Recorder, *, name: str, site: str, resource_properties: Any,
                 lease: LeaseWindow, address_network_id: str | None = None,
                 progress: Callable[[str], None] = lambda _m: None) -> Lease:
    """The lease, with a floating IP reserved in it when `address_network_id` is given.

    Reserved addresses come from a pool of their own; when Blazar cannot reserve one, the lease is
    created without it and the run falls back to an ad hoc address (see network_manager).
    """
    try:
        return _create(cloud, recorder, name, site, resource_properties, lease, address_network_id)
    except OpenStackError as exc:
        if not (address_network_id and _ADDRESS_REFUSAL.search(exc.message)):
            raise
        progress(f"Blazar could not reserve a floating IP ({exc.message.splitlines()[-1][:120]}); "
                 "leasing the node alone and taking an ad hoc address after it starts")
        return _create(cloud, recorder, name, site, resource_properties, lease, None)


def _create(cloud: Cloud, recorder: Recorder, name: str, site: str, resource_properties: Any, lease: LeaseWindow,
            address_network_id: str | None) -> Lease:
    detail = {"resource_properties": resource_properties, "reserves_address": bool(address_network_id)}
    try:  # outside `creating`, so the recorder sees the CLI's error and marks the row failed
        with recorder.creating("lease", name, site, detail) as confirm:
            created = cloud.lease_create(name=name, resource_properties=resource_properties,
                                         start=lease.start, end=lease.end, address_network_id=address_network_id)
            confirm(created.id, end=lease.end)
    except OpenStackError as exc:
        # Blazar's floating IP plugin also says "Not enough ..." ("Not enough floating IPs available"):
        # that one is the address pool, which create_lease answers with an ad hoc address instead.
        if "Not enough" in exc.message and not (address_network_id and _ADDRESS_REFUSAL.search(exc.message)):
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
