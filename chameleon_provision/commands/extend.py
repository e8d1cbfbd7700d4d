"""`provision extend RUN --hours N`: a longer lease, within Chameleon's rules, or a one-line refusal and no change.

Chameleon (Blazar's MaxLeaseDurationFilter with its `reservation_extension_window`) lets a lease be
extended only within 48 h of its current end, by at most 7 days (604800 s) from that end, and the
portal's balance service must cover the added service units. The first two are checked here before
any call, so the refusal says when to come back; the balance and a node booked by someone else right
after this lease are only known to Chameleon, and its refusals are turned into the same kind of line.
`openstack reservation lease set --prolong-for` adds the time to the end Blazar holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from chameleon_provision.commands.status import check_same_cloud
from chameleon_provision.decisions.lease import BLAZAR_MINUTE
from chameleon_provision.errors import (
    AllocationExceeded,
    ConfirmationRequired,
    LeaseRefused,
    NoCapacityError,
    OpenStackError,
    ProvisionError,
    StateError,
)
from chameleon_provision.pipeline.session import Session
from chameleon_provision.state.run_log import log_path

EXTENSION_WINDOW = timedelta(hours=48)
MAX_ADDED = timedelta(days=7)
_EXTENDABLE = ("ACTIVE", "PENDING")
_SU_REFUSAL = re.compile(r"would spend [\d.]+ (more )?SUs?, only [-\d.]+ left")


def _date(value: str) -> datetime:
    """Blazar's "2026-01-01T00:01:00.000000" (or the CLI's minute format) as naive UTC."""
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", BLAZAR_MINUTE):
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    raise StateError(f"the lease's end date {value!r} is not one Blazar writes")


def check_rules(status: str, end: datetime, added: timedelta, now: datetime) -> None:
    """LeaseRefused with the reason and what to do, when Chameleon would refuse the extension."""
    if status not in _EXTENDABLE:
        raise LeaseRefused(f"the lease is {status}; only an ACTIVE or PENDING lease can be extended",
                           hint="start a new run with `provision REPO`")
    if end - now > EXTENSION_WINDOW:
        opens = end - EXTENSION_WINDOW
        raise LeaseRefused(f"Chameleon extends a lease only within 48 h of its end; this one ends "
                           f"{end:%Y-%m-%d %H:%M} UTC, {(end - now).total_seconds() / 3600:.0f} h from now",
                           hint=f"try again after {opens:%Y-%m-%d %H:%M} UTC")
    if added > MAX_ADDED:
        raise LeaseRefused("Chameleon adds at most 7 days (168 h) to a lease's end, not "
                           f"{added.total_seconds() / 3600:g} h")


def extend(session: Session, run_id: str, hours: float, confirm: Callable[[str], bool] | None) -> dict[str, Any]:
    store = session.store
    run = store.run(run_id)
    lease_row = next((r for r in store.live_resources(run_id) if r.kind == "lease" and r.cloud_id), None)
    if lease_row is None or run.status in ("destroyed", "cleaned"):
        raise StateError(f"run {run_id} holds no lease to extend ({run.status})",
                         hint="`provision status` lists runs and their leases")
    check_same_cloud(run, session)
    session.log.open(log_path(session.settings.state_dir, run_id))
    cloud = session.cloud(run.region or run.site)
    lease = cloud.lease_show(str(lease_row.cloud_id))
    end, minutes = _date(lease.end_date), round(hours * 60)
    check_rules(lease.status, end, timedelta(minutes=minutes), datetime.now(UTC).replace(tzinfo=None))
    plan = store.plan(run_id) or {}
    su_per_hour = float((plan.get("cost") or {}).get("su_per_hour") or 0)
    more = f" (about {su_per_hour * minutes / 60:g} SU more)" if su_per_hour else ""
    new_end = end + timedelta(minutes=minutes)
    question = f"Extend lease {lease.name} by {minutes / 60:g} h, to {new_end:%Y-%m-%d %H:%M} UTC{more}?"
    if confirm is None:
        raise ConfirmationRequired(f"extending run {run_id}'s lease spends service units",
                                   hint="pass --yes to confirm without a terminal")
    if not confirm(question):
        raise ProvisionError("cancelled; the lease was not changed")
    session.log.event("decision", "extend", lease=lease.id, end_before=f"{end:%Y-%m-%d %H:%M}",
                      added_minutes=minutes, reason="asked with provision extend")
    try:
        cloud.lease_prolong(lease.id, minutes)
    except OpenStackError as exc:
        raise _refusal(exc, run.region or run.site) from exc
    after = cloud.lease_show(lease.id)
    new_end = _date(after.end_date)
    end_text = f"{new_end:{BLAZAR_MINUTE}}"
    store.update_run(run_id, lease_end=end_text, **_longer_plan(plan, end_text, minutes))
    session.log.event("extended", f"lease {lease.id} now ends {end_text} UTC", was=f"{end:%Y-%m-%d %H:%M}")
    return {"schema_version": 1, "run_id": run_id,
            "lease": {"id": lease.id, "name": lease.name, "status": after.status,
                      "end_before": f"{end:{BLAZAR_MINUTE}}", "end": end_text, "added_hours": minutes / 60},
            "su_added": round(su_per_hour * minutes / 60, 2) if su_per_hour else None,
            "log_file": str(session.log.path)}


def _longer_plan(plan: dict[str, Any], end: str, minutes: int) -> dict[str, Any]:
    """The recorded plan with the new end, so `resume` keeps it and `status` counts the cost of the longer lease."""
    if not plan:
        return {}
    lease = {**plan.get("lease", {}), "end": end, "hours": float(plan.get("lease", {}).get("hours", 0)) + minutes / 60}
    cost = plan.get("cost")
    if cost:
        cost = {**cost, "hours": lease["hours"],
                "su_total": round(float(cost["su_per_hour"]) * lease["hours"], 2)}
    return {"plan_json": json.dumps({**plan, "lease": lease, **({"cost": cost} if cost else {})})}


def _refusal(exc: OpenStackError, site: str) -> ProvisionError:
    text = exc.message
    if found := _SU_REFUSAL.search(text):
        return AllocationExceeded(f"{site} refused the extension: {found.group(0)}; the lease was not changed",
                                  hint="a shorter --hours costs fewer SUs")
    if "Not enough" in text:
        return NoCapacityError(f"{site} refused the extension: the node is reserved by another lease after this "
                               "one ends; the lease was not changed", hint="a shorter --hours may still fit")
    if "extended within" in text or "maximum lease duration" in text:
        return LeaseRefused(f"{site} refused the extension: {text.split(': ', 1)[-1]}; the lease was not changed")
    return exc
