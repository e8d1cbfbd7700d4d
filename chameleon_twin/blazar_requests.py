"""Checking and applying `POST /leases` and `PUT /leases/{id}` bodies, in Chameleon Blazar's order.

Create: required fields -> dates ("now" is rounded down to the minute; a start before that is
refused) -> per reservation, host candidates (with Chameleon's default resource_properties when
none are given, retried without them) -> the 7-day limit. Nothing is stored unless every step
passes, as in Blazar, where the lease is only written after the allocation check.

Update (Chameleon's MaxLeaseDurationFilter): moving the end later or the start earlier counts as an
extension, allowed only within 48 h of the current end, and the added time (current end -> new
end) must stay within 7 days. Otherwise the new dates must simply form a lease of at most 7 days.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from chameleon_twin.blazar_errors import BlazarError, malformed_parameter, missing_parameter
from chameleon_twin.blazar_filters import parse_requirements
from chameleon_twin.blazar_fips import FloatingIpPool
from chameleon_twin.blazar_hosts import HostPool
from chameleon_twin.blazar_leases import (
    EXTENSION_WINDOW_SECONDS,
    FLOATING_IP,
    HOST,
    LEASE_DATE_FORMAT,
    Lease,
    Reservation,
    before_end_time,
    check_duration,
    minute,
    parse_date,
)

# chi-in-a-box blazar_host_default_resource_properties
DEFAULT_RESOURCE_PROPERTIES = '["=", "$node_type", "compute_skylake"]'
_BEFORE_END_OPTIONS = ("", "snapshot", "default", "email")


class _NotEnough(Exception):
    pass


def _int_like(value: Any) -> bool:
    """oslo's strutils.is_int_like: 1 and "1" are, "1.0" and "01" are not."""
    try:
        return not isinstance(value, bool) and str(int(value)) == str(value)
    except (TypeError, ValueError):
        return False


def _check_host_params(values: dict[str, Any]) -> tuple[int, int]:
    """The host plugin's _check_params; like Blazar it records defaults into `values`."""
    bounds = []
    for name in ("min", "max"):
        if values.get(name) is None:
            raise missing_parameter(name)
        if not _int_like(values[name]):
            raise malformed_parameter(name)
        bounds.append(int(values[name]))
    low, high = bounds
    if low <= 0 or high <= 0:
        raise malformed_parameter("min and max (must be greater than or equal to 1)")
    if high < low:
        raise BlazarError(400, "Invalid values for min/max of hosts. Max must be equal to or larger than min.")
    values["count_range"] = f"{low}-{high}"
    for name in ("hypervisor_properties", "resource_properties"):
        if name not in values:
            raise missing_parameter(name)
    values.setdefault("before_end", "default")
    if values["before_end"] not in _BEFORE_END_OPTIONS:
        raise malformed_parameter("before_end")
    values.setdefault("on_start", "default")
    on_start = str(values["on_start"])
    if on_start.startswith("orchestration"):
        try:
            uuid.UUID(on_start.split(":")[-1])
        except ValueError:
            raise malformed_parameter("on_start") from None
    elif on_start not in ("", "default"):
        raise malformed_parameter("on_start")
    return low, high


def _host_candidates(values: dict[str, Any], pool: HostPool, leases: Iterable[Lease], taken: set[str]) -> list[str]:
    low, high = _check_host_params(values)
    queries = parse_requirements(values["hypervisor_properties"]) + parse_requirements(values["resource_properties"])
    ids = pool.candidates(queries, leases, values["start_date"], values["end_date"], low, high, exclude=taken)
    if not ids:
        raise _NotEnough
    return ids


def _host_reservation(raw: dict[str, Any], lease: Lease, pool: HostPool, leases: list[Lease],
                      taken: set[str]) -> Reservation:
    values = {**raw, "start_date": lease.start, "end_date": lease.end, "project_id": lease.project_id}
    original = dict(values)
    if not values.get("resource_properties"):
        values["resource_properties"] = DEFAULT_RESOURCE_PROPERTIES
    try:
        hosts = _host_candidates(values, pool, leases, taken)
    except _NotEnough:
        try:  # Chameleon retries without the default properties...
            hosts = _host_candidates(original, pool, leases, taken)
        except _NotEnough:
            # ...and, with display_default_resource_properties on, shows the query (a 500).
            raise BlazarError(500, f"Not enough resources available with query {values}") from None
        values = original
    return Reservation(HOST, lease.id, lease.created_at, min=int(values["min"]), max=int(values["max"]),
                       hypervisor_properties=str(values["hypervisor_properties"]),
                       # Blazar stores what was sent: the defaults only steer the host search.
                       resource_properties=str(raw.get("resource_properties") or ""),
                       before_end=str(values["before_end"]), host_ids=hosts)


def _fip_reservation(raw: dict[str, Any], lease: Lease, fips: FloatingIpPool | None, leases: list[Lease]
                     ) -> Reservation:
    for name in ("network_id", "amount"):
        if name not in raw:
            raise missing_parameter(name)
    if not _int_like(raw["amount"]):
        raise malformed_parameter("amount")
    required = raw.get("required_floatingips") or []
    if not isinstance(required, list):
        raise malformed_parameter("required_floatingips")
    if len(required) > int(raw["amount"]):
        raise BlazarError(400, "Invalid values for required_floatingips and amount. The amount must be equal "
                               "to or longer than length of required_floatingips.")
    required = [str(ip) for ip in required]
    addresses = (fips.pick(str(raw["network_id"]), required, int(raw["amount"]), lease.start, lease.end, leases)
                 if fips is not None else [])
    return Reservation(FLOATING_IP, lease.id, lease.created_at, network_id=str(raw["network_id"]),
                       amount=int(raw["amount"]), required_floatingips=required, addresses=addresses)


def build_lease(body: Any, now: datetime, user_id: str, project_id: str, pool: HostPool,
                leases: list[Lease], fips: FloatingIpPool | None = None) -> Lease:
    """A new lease with its hosts (and reserved addresses) picked, or BlazarError; `leases` are the
    ones holding resources."""
    if not isinstance(body, dict):
        raise BlazarError(400, "Malformed parameter lease (a JSON object is expected)")
    missing = sorted({"name", "start_date", "end_date"} - set(body))
    if missing:
        raise missing_parameter(*missing)
    raws = body.get("reservations") or []
    if not isinstance(raws, list) or not raws:
        raise missing_parameter("reservations")
    if any(not isinstance(r, dict) or "resource_type" not in r for r in raws):
        raise missing_parameter("resource_type")
    start, end = parse_date(body["start_date"], now), parse_date(body["end_date"], now)
    if start < minute(now):
        raise BlazarError(400, "Start date must be later than current date")
    if end <= start:
        raise BlazarError(400, "End date must be later than start date.")
    lease = Lease(name=str(body["name"]), start=start, end=end, user_id=user_id, project_id=project_id,
                  created_at=now)
    taken: set[str] = set()
    for raw in raws:
        if raw["resource_type"] == HOST:
            res = _host_reservation(raw, lease, pool, leases, taken)
            taken.update(res.host_ids)
        elif raw["resource_type"] == FLOATING_IP:
            res = _fip_reservation(raw, lease, fips, leases)
        else:
            raise BlazarError(500, f"The {raw['resource_type']} resource type is not supported")
        lease.reservations.append(res)
    check_duration(start, end)
    lease.before_end = before_end_time(start, end, body.get("before_end_date"))
    return lease


def update_lease(lease: Lease, body: Any, now: datetime, pool: HostPool, others: list[Lease]) -> None:
    """Apply a PUT body to `lease` in place, or raise BlazarError and change nothing."""
    if not isinstance(body, dict):
        raise BlazarError(400, "Malformed parameter lease (a JSON object is expected)")
    body = {k: v for k, v in body.items() if k in ("name", "start_date", "end_date", "before_end_date")}
    if set(body) <= {"name"}:
        if "name" in body:
            lease.name, lease.edited_at = str(body["name"]), now
        return
    floor = minute(now)
    start = parse_date(body.get("start_date", lease.start.strftime(LEASE_DATE_FORMAT)), now)
    end = parse_date(body.get("end_date", lease.end.strftime(LEASE_DATE_FORMAT)), now)
    if lease.start < floor and start != lease.start:
        raise BlazarError(400, "Cannot modify the start date of already started leases")
    if lease.start > floor and start < floor:
        raise BlazarError(400, "Start date must be later than current date")
    if lease.end < floor:
        raise BlazarError(400, "Terminated leases can only be renamed")
    if end < floor or end < start:
        raise BlazarError(400, "End date must be later than current and start date")
    before_end = before_end_time(start, end, body.get("before_end_date")) if body.get("before_end_date") else None
    if end > lease.end or start < lease.start:  # an extension
        if now < lease.end - timedelta(seconds=EXTENSION_WINDOW_SECONDS):
            raise BlazarError(400, f"Lease can only be extended within {EXTENSION_WINDOW_SECONDS} seconds of "
                                   "the leases current end time.")
        check_duration(lease.end, end)
    else:
        check_duration(start, end)
    hosts = [h for r in lease.reservations for h in r.host_ids]
    others = [other for other in others if other.id != lease.id]
    if pool.conflicts(hosts, others, start, end):
        raise BlazarError(500, "Not enough hosts available")
    addresses = {a for r in lease.reservations if r.resource_type == FLOATING_IP for a in r.addresses}
    if any(address in addresses and other.start < end and other.end > start
           for other in others for r in other.reservations if r.resource_type == FLOATING_IP
           for address in r.addresses):
        raise BlazarError(400, "Floating IP reservation cannot be updated with requested parameters. "
                               "Cannot remove allocations from an active reservation")
    if before_end is None and lease.before_end is not None:
        before_end = max(lease.before_end + (end - lease.end), start)  # keep the reminder's lead time
    lease.start, lease.end, lease.before_end, lease.edited_at = start, end, before_end, now
    if "name" in body:
        lease.name = str(body["name"])
