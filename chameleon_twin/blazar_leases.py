"""Blazar leases: the stored record, the status derived from the clock, and the JSON shape.

Nothing here runs in the background. A lease stores its dates and flags; its status is worked
out from `now` whenever it is read, with the statuses of Blazar's `blazar/status.py`:

    CREATING    while Blazar writes the lease and its reservations (the create call answers PENDING,
                as Blazar's does once it is done; other readers see CREATING in the meantime)
    PENDING     until the start (or until creation, for a "now" lease whose start was rounded down)
    STARTING    while the start_lease event runs (Blazar's event loop plus aggregate work)
    ACTIVE      until end_date
    TERMINATING while the end_lease event runs (servers and reserved addresses go), then TERMINATED
    UPDATING    for a moment after a successful PUT, then the stable status again
    DELETING    after DELETE, until the lease is gone (then 404)
    ERROR       when fault injection says so, or a DELETE came while it was STARTING

How long each transition lasts is a `Pace` (Chameleon's durations divided by the clock's speed).
`degraded` is a boolean beside the status, never a status of its own.

The JSON follows the upstream API sample (doc/api_samples/leases/lease-create-resp.json), with
Blazar's date formats: lease and event dates "%Y-%m-%dT%H:%M:%S.%f", created_at "%Y-%m-%d %H:%M:%S".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chameleon_twin.blazar_errors import BlazarError
from chameleon_twin.clock import blazar_date, db_date

LEASE_DATE_FORMAT = "%Y-%m-%d %H:%M"
MAX_LEASE_SECONDS = 604800  # Chameleon: 7 days
EXTENSION_WINDOW_SECONDS = 172800  # Chameleon: extend only within 48 h of the current end
BEFORE_END_MINUTES = 2880  # Chameleon's minutes_before_end_lease (the 48 h reminder e-mail)

PENDING, STARTING, ACTIVE, TERMINATED, ERROR = "PENDING", "STARTING", "ACTIVE", "TERMINATED", "ERROR"
CREATING, UPDATING, TERMINATING, DELETING = "CREATING", "UPDATING", "TERMINATING", "DELETING"
STABLE = (PENDING, ACTIVE, TERMINATED, ERROR)
TRANSITIONAL = (CREATING, STARTING, UPDATING, TERMINATING, DELETING)
# blazar/status.py LeaseStatus.NEXT_STATUSES, for the two transitions a client can ask for.
CAN_UPDATE_FROM = (PENDING, ACTIVE, TERMINATED, ERROR)
CAN_DELETE_FROM = (PENDING, ACTIVE, TERMINATED, ERROR, CREATING, STARTING, UPDATING, TERMINATING)
HOST, FLOATING_IP = "physical:host", "virtual:floatingip"


@dataclass(frozen=True)
class Pace:
    """How long each lease transition lasts on the twin's clock."""

    start: timedelta = timedelta(0)  # STARTING
    create: timedelta = timedelta(0)  # CREATING
    update: timedelta = timedelta(0)  # UPDATING
    end: timedelta = timedelta(0)  # TERMINATING
    delete: timedelta = timedelta(0)  # DELETING


def new_id() -> str:
    return str(uuid.uuid4())


def minute(now: datetime) -> datetime:
    """Blazar compares lease dates with now rounded down to the minute."""
    return now.replace(second=0, microsecond=0)


def parse_date(value: Any, now: datetime) -> datetime:
    if value == "now":
        return minute(now)
    try:
        return datetime.strptime(str(value), LEASE_DATE_FORMAT)
    except ValueError:
        raise BlazarError(400, f"{value} is an invalid date. Required format: {LEASE_DATE_FORMAT}") from None


def check_duration(start: datetime, end: datetime) -> None:
    seconds = int((end - start).total_seconds())
    if seconds > MAX_LEASE_SECONDS:
        raise BlazarError(400, f"Lease duration of {seconds} seconds must be less than or equal to the "
                               f"maximum lease duration of {MAX_LEASE_SECONDS} seconds.")


@dataclass
class Reservation:
    resource_type: str
    lease_id: str
    created_at: datetime
    id: str = field(default_factory=new_id)
    resource_id: str = field(default_factory=new_id)
    # physical:host
    min: int = 0
    max: int = 0
    hypervisor_properties: str = ""
    resource_properties: str = ""
    before_end: str = "default"
    host_ids: list[str] = field(default_factory=list)
    # virtual:floatingip
    network_id: str = ""
    amount: int = 0
    required_floatingips: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)  # the reservable addresses Blazar allocated


@dataclass
class Lease:
    name: str
    start: datetime
    end: datetime
    user_id: str
    project_id: str
    created_at: datetime
    before_end: datetime | None = None
    id: str = field(default_factory=new_id)
    trust_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    reservations: list[Reservation] = field(default_factory=list)
    event_ids: dict[str, str] = field(default_factory=lambda: {k: new_id() for k in
                                                                ("start_lease", "end_lease", "before_end_lease")})
    edited_at: datetime | None = None  # last PUT
    error_at: datetime | None = None  # fault injection, or a DELETE while STARTING
    deleted_at: datetime | None = None  # DELETE accepted: DELETING until the lease is gone
    degraded: bool = False  # a reserved node failed (admin endpoint)
    activated: bool = False  # floating IPs handed to Neutron
    released: bool = False  # hosts and floating IPs given back

    def active_from(self, pace: Pace) -> datetime:
        # A "now" lease starts in the past (rounded down); Blazar's event loop only sees it at creation.
        return max(self.start, self.created_at) + pace.start

    def stable_status(self, now: datetime, pace: Pace) -> str:
        """The status apart from CREATING, UPDATING and DELETING (what Blazar's events have made it)."""
        if self.error_at is not None:
            return ERROR
        if now >= self.end:
            return TERMINATING if now < self.end + pace.end else TERMINATED
        if now < max(self.start, self.created_at):
            return PENDING
        return STARTING if now < self.active_from(pace) else ACTIVE

    def status(self, now: datetime, pace: Pace) -> str:
        if self.deleted_at is not None:
            return DELETING
        if self.error_at is not None:
            return ERROR
        if now < self.created_at + pace.create:
            return CREATING
        if self.edited_at is not None and now < self.edited_at + pace.update:
            return UPDATING
        return self.stable_status(now, pace)

    def gone(self, now: datetime, pace: Pace) -> bool:
        """A deleted lease has left Blazar's database once DELETING is over."""
        return self.deleted_at is not None and now >= self.deleted_at + pace.delete

    def updated_at(self, now: datetime, pace: Pace) -> datetime | None:
        """When Blazar last wrote the lease: the latest edit or status change that has happened."""
        marks = (self.edited_at, self.error_at, self.deleted_at, self.created_at + pace.create,
                 max(self.start, self.created_at), self.active_from(pace), self.end, self.end + pace.end)
        passed = [t for t in marks if t is not None and t <= now]
        return max(passed) if passed else None


def reservation_status(status: str) -> str:
    """A reservation's status (pending, active, deleted, error) while its lease has `status`."""
    return {CREATING: "pending", PENDING: "pending", STARTING: "pending", ACTIVE: "active", UPDATING: "active",
            TERMINATING: "active", TERMINATED: "deleted", DELETING: "deleted", ERROR: "error"}[status]


def _opt(value: datetime | None) -> str | None:
    return db_date(value) if value is not None else None


def render_reservation(lease: Lease, res: Reservation, status: str, updated: datetime | None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": res.id, "lease_id": lease.id, "status": reservation_status(status),
                           "missing_resources": lease.degraded, "resources_changed": lease.degraded,
                           "resource_id": res.resource_id, "resource_type": res.resource_type}
    if res.resource_type == HOST:
        out.update(min=res.min, max=res.max, hypervisor_properties=res.hypervisor_properties,
                   resource_properties=res.resource_properties, before_end=res.before_end)
    else:
        out.update(network_id=res.network_id, amount=res.amount, required_floatingips=list(res.required_floatingips))
    out.update(created_at=db_date(res.created_at), updated_at=_opt(updated))
    return out


def render_lease(lease: Lease, now: datetime, pace: Pace, status: str | None = None) -> dict[str, Any]:
    """The lease as Blazar returns it; `status` overrides the derived one (create answers PENDING)."""
    if status is None:
        status = lease.status(now, pace)
        stable = PENDING if status == CREATING else lease.stable_status(now, pace)
    else:
        stable = status
    updated = None if status == PENDING and lease.edited_at is None else lease.updated_at(now, pace)
    start_event = {PENDING: "UNDONE", STARTING: "IN_PROGRESS", ERROR: "ERROR"}.get(stable, "DONE")
    end_event = {TERMINATING: "IN_PROGRESS", TERMINATED: "DONE"}.get(stable, "UNDONE")
    if status == DELETING and stable in (ACTIVE, STARTING):
        end_event = "IN_PROGRESS"  # Blazar's delete runs the end of a started lease itself
    events = [("start_lease", lease.start, start_event), ("end_lease", lease.end, end_event)]
    if lease.before_end is not None:
        done = stable in (ACTIVE, TERMINATING, TERMINATED) and now >= lease.before_end
        events.append(("before_end_lease", lease.before_end, "DONE" if done else "UNDONE"))
    return {
        "id": lease.id, "name": lease.name,
        "start_date": blazar_date(lease.start), "end_date": blazar_date(lease.end),
        "status": status, "degraded": lease.degraded,
        "user_id": lease.user_id, "project_id": lease.project_id, "trust_id": lease.trust_id,
        "created_at": db_date(lease.created_at), "updated_at": _opt(updated),
        "reservations": [render_reservation(lease, r, stable if status == UPDATING else status, updated)
                         for r in lease.reservations],
        "events": [{"id": lease.event_ids[kind], "lease_id": lease.id, "status": event_status, "event_type": kind,
                    "time": blazar_date(when), "created_at": db_date(lease.created_at),
                    "updated_at": None if event_status == "UNDONE" else _opt(updated)}
                   for kind, when, event_status in events],
    }


def before_end_time(start: datetime, end: datetime, requested: Any) -> datetime:
    """When the before_end_lease event fires: requested, else end - 48 h, never before the start."""
    if requested:
        when = parse_date(requested, start)
        if not start < when < end:
            raise BlazarError(403, "Datetime is out of lease limits")
        return when
    return max(end - timedelta(minutes=BEFORE_END_MINUTES), start)
