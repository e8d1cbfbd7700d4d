"""The Blazar lease: how long (AI decision 4, clamped to policy), creating it, waiting for ACTIVE."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from .cloud import Cloud, Lease
from .errors import NoCapacityError, OpenStackError, ProvisioningFailed
from .models import LeaseWindow, Requirements
from .polling import wait_for_status
from .teardown import Recorder

BLAZAR_MINUTE = "%Y-%m-%d %H:%M"
DEFAULT_HOURS = 24.0  # Chameleon's own default lease length
SETUP_HOURS = 2.0  # boot (10-30 min), cloning, environment install
MIN_HOURS = 1.0

LEASE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "hours": {"type": "number", "minimum": MIN_HOURS},
        "reason": {"type": "string"},
    },
    "required": ["hours", "reason"],
    "additionalProperties": False,
}
LEASE_INSTRUCTIONS = (
    "Choose the length in hours of a Chameleon bare-metal lease for this repository's main workload: "
    "enough for setup (2 hours: boot, clone, install) plus the stated runtime with a margin, no longer. "
    "Unknown runtime: one working day. Never above max_hours."
)


def window(hours: float, now: datetime | None = None) -> tuple[str, str]:
    """Blazar start/end strings: start 'now', end rounded up to the minute (UTC)."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    end = now + timedelta(hours=hours)
    end = end.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return "now", end.strftime(BLAZAR_MINUTE)


def clamp_hours(hours: float, max_hours: float) -> float:
    return float(min(max(hours, MIN_HOURS), max_hours))


def rules_hours(req: Requirements) -> tuple[float, str]:
    if req.estimated_runtime_hours:
        hours = math.ceil(req.estimated_runtime_hours * 1.25 + SETUP_HOURS)
        return float(hours), f"stated runtime {req.estimated_runtime_hours:g} h + 25% + {SETUP_HOURS:g} h setup"
    if req.gpu.required == "yes" and req.gpu.count > 1:
        return 48.0, "multi-GPU training with no stated runtime: two days"
    return DEFAULT_HOURS, "no runtime stated: one day, Chameleon's default"


def lease_window(hours: float, decided_by: str, reason: str, max_hours: float, now: datetime | None = None
                 ) -> LeaseWindow:
    clamped = clamp_hours(hours, max_hours)
    if clamped != hours:
        reason = f"{reason}; clamped to {clamped:g} h by policy"
    start, end = window(clamped, now)
    return LeaseWindow(start=start, end=end, hours=clamped, decided_by=decided_by, reason=reason)  # type: ignore[arg-type]


def validate_hours(answer: dict[str, Any], max_hours: float) -> tuple[float, str]:
    hours = float(answer["hours"])
    if not MIN_HOURS <= hours <= max_hours:
        raise ValueError(f"hours must be between {MIN_HOURS:g} and {max_hours:g}, got {hours:g}")
    return hours, str(answer.get("reason", ""))[:200]


def create_lease(cloud: Cloud, recorder: Recorder, *, name: str, site: str, resource_properties: Any,
                 lease: LeaseWindow) -> Lease:
    with recorder.creating("lease", name, site, {"resource_properties": resource_properties}) as confirm:
        try:
            created = cloud.lease_create(name=name, resource_properties=resource_properties,
                                         start=lease.start, end=lease.end)
        except OpenStackError as exc:
            if "Not enough" in exc.message:
                raise NoCapacityError(f"Blazar at {site} refused the lease: {exc.message.split(': ', 1)[-1]}") from exc
            raise
        confirm(created.id, end=lease.end)
    return created


def wait_active(cloud: Cloud, lease: Lease, *, timeout: float, poll: float,
                progress: Callable[[str], None]) -> Lease:
    def failed(current: Lease) -> ProvisioningFailed:
        return ProvisioningFailed(f"lease {lease.name} went {current.status} before it was usable",
                                  hint="retry; Chameleon leases fail to start when a node is unhealthy")

    active = wait_for_status(lambda: cloud.lease_show(lease.id), label=f"lease {lease.name}", ready="ACTIVE",
                             failed=("ERROR", "TERMINATED", "DELETED"), timeout=timeout, poll=poll,
                             progress=progress, on_failed=failed)
    if not active.host_reservation_id:
        raise ProvisioningFailed(f"lease {lease.id} is ACTIVE but has no physical:host reservation")
    return active
