"""Blazar's host side: os-hosts records, resource properties, allocations and free-host search.

An allocation is a host held by a reservation of a lease that has not been released (deleted,
or ended and cleaned up). Like Chameleon's fork, `GET /os-hosts/allocations` lists **every** host,
with an empty `reservations` list when it has none, and each reservation carries the lease's
`start_date`/`end_date`. Without a `lease_id`/`reservation_id` filter only leases ending at or
after now are shown (the fork queries the window now -> forever); with a filter, any date.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from chameleon_twin import blazar_filters
from chameleon_twin.blazar_errors import not_found
from chameleon_twin.blazar_leases import HOST, Lease, Pace, reservation_status
from chameleon_twin.clock import blazar_date


class HostPool:
    def __init__(self, hosts: Iterable[dict[str, Any]]) -> None:
        # Copies: exhaust() flips `reservable` without touching the caller's records.
        self._hosts = {str(h["id"]): dict(h) for h in hosts}

    def all(self) -> list[dict[str, Any]]:
        return list(self._hosts.values())

    def get(self, host_id: str) -> dict[str, Any]:
        host = self._hosts.get(str(host_id))
        if host is None:
            raise not_found("host_id", str(host_id))
        return host

    def hostname(self, host_id: str) -> str:
        return str(self._hosts[host_id]["hypervisor_hostname"])

    def su_factor(self, host_id: str) -> float:
        """Service units per hour of a host: its `su_factor` capability, 1.0 without one (the portal's rule)."""
        try:
            return float(self._hosts[host_id].get("su_factor") or 1.0)
        except (TypeError, ValueError):
            return 1.0

    def set_unreservable(self, node_type: str) -> int:
        hosts = [h for h in self._hosts.values() if h.get("node_type") == node_type]
        for host in hosts:
            host["reservable"] = False
        return len(hosts)

    def properties(self, detail: bool) -> list[dict[str, Any]]:
        """Extra-capability names (what `$property` may name), as GET /os-hosts/properties lists them."""
        values: dict[str, set[str]] = {}
        for host in self._hosts.values():
            for key, value in host.items():
                if key not in blazar_filters.COLUMNS and isinstance(value, str) and key not in (
                        "created_at", "updated_at", "cpu_arch"):
                    values.setdefault(key, set()).add(value)
        if not detail:
            return [{"property": key} for key in sorted(values)]
        return [{"property": key, "private": False, "values": sorted(vals)} for key, vals in sorted(values.items())]

    # -- allocations ------------------------------------------------------------------------------

    @staticmethod
    def _held(leases: Iterable[Lease]) -> list[tuple[Lease, Any, str]]:
        return [(lease, res, host_id) for lease in leases if not lease.released
                for res in lease.reservations if res.resource_type == HOST for host_id in res.host_ids]

    def allocations(self, leases: Iterable[Lease], now: datetime, host_ids: list[str] | None = None,
                    lease_id: str | None = None, reservation_id: str | None = None,
                    detail: bool = False, pace: Pace | None = None) -> list[dict[str, Any]]:
        wanted = host_ids if host_ids is not None else list(self._hosts)
        out: dict[str, list[dict[str, Any]]] = {h: [] for h in wanted}
        for lease, res, host_id in self._held(leases):
            if host_id not in out:
                continue
            if (lease_id and lease.id != lease_id) or (reservation_id and res.id != reservation_id):
                continue
            if not (lease_id or reservation_id) and lease.end < now:
                continue
            entry: dict[str, Any] = {"id": res.id, "lease_id": lease.id, "start_date": blazar_date(lease.start),
                                     "end_date": blazar_date(lease.end)}
            if detail:
                entry.update(status=reservation_status(lease.status(now, pace or Pace())),
                             lease_name=lease.name,
                             project_id=lease.project_id)
            out[host_id].append(entry)
        return [{"resource_id": host_id, "reservations": reservations} for host_id, reservations in out.items()]

    def candidates(self, queries: list[blazar_filters.Query], leases: Iterable[Lease], start: datetime,
                   end: datetime, count_min: int, count_max: int, exclude: Collection[str] = ()) -> list[str]:
        """Host ids Blazar would pick for [start, end], or [] when fewer than count_min qualify.

        `exclude` holds hosts already taken by an earlier reservation of the same request.
        """
        blazar_filters.check_known(self._hosts.values(), queries)
        matching = [h for h in self._hosts.values()
                    if h.get("reservable") and not h.get("disabled") and h["id"] not in exclude
                    and blazar_filters.matches(h, queries)]
        held = self._held(leases)
        allocated = {host_id for _, _, host_id in held}
        # Back-to-back leases are fine (Blazar's cleaning_time defaults to 0).
        busy = {host_id for lease, _, host_id in held if lease.start < end and lease.end > start}
        free = {h["id"] for h in matching} - busy
        return blazar_filters.pick_hosts(matching, {h["id"] for h in matching} - allocated, free,
                                         count_min, count_max)

    def conflicts(self, host_ids: Iterable[str], leases: Iterable[Lease], start: datetime, end: datetime) -> bool:
        """Whether any of these hosts is held by one of `leases` during [start, end)."""
        wanted = set(host_ids)
        return any(host_id in wanted and lease.start < end and lease.end > start
                   for lease, _, host_id in self._held(leases))
