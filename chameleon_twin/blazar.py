"""The twin's Blazar (Chameleon's fork, chameleoncloud/2023.1) for one site.

Routes, relative to `.../reservation/v1`: /leases (GET, POST), /leases/{id} (GET, PUT, DELETE),
/os-hosts, /os-hosts/{id}, /os-hosts/properties, /os-hosts/allocations, /os-hosts/{id}/allocation.
The server checks the token and passes the caller's ids in x-twin-project-id / x-twin-user-id.

There are no timers: every entry point first brings leases up to date with the clock (`_tick`),
firing each hook at most once per reservation: floating IPs are handed to Neutron when a lease is
first seen ACTIVE, and everything is given back (`release_reservation`) when it ends or is
deleted. Nova asks `claim_host` for a bare-metal node of an ACTIVE reservation at server create.
A deleted lease stays DELETING for a moment and then is gone (404), as Blazar destroys it.

Before a lease is stored, the project's service units are checked (`balance`, shared by the
sites), and the reserved floating IPs come from the site's finite pool (`fips`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from chameleon_twin.balance import BalanceService
from chameleon_twin.blazar_errors import BlazarError, error_response, not_found
from chameleon_twin.blazar_fips import FloatingIpPool
from chameleon_twin.blazar_hosts import HostPool
from chameleon_twin.blazar_leases import (
    ACTIVE,
    CAN_DELETE_FROM,
    CAN_UPDATE_FROM,
    FLOATING_IP,
    HOST,
    PENDING,
    STARTING,
    Lease,
    Pace,
    render_lease,
)
from chameleon_twin.blazar_requests import build_lease, update_lease
from chameleon_twin.clock import (
    LEASE_CREATE_SECONDS,
    LEASE_DELETE_SECONDS,
    LEASE_END_SECONDS,
    LEASE_START_SECONDS,
    LEASE_UPDATE_SECONDS,
    Clock,
    blazar_date,
)
from chameleon_twin.http import Request, Response, json_response

INVALID_STATUS = "Invalid lease status."  # blazar.exceptions.InvalidStatus (a 500)


class BlazarHooks(Protocol):
    def reserve_floating_ips(self, reservation_id: str, network_id: str, addresses: list[str]) -> None: ...

    def release_reservation(self, reservation_id: str, hostnames: list[str]) -> None: ...


class BlazarService:
    def __init__(self, site: str, hosts: list[dict[str, Any]], clock: Clock, hooks: BlazarHooks | None = None,
                 fips: FloatingIpPool | None = None, balance: BalanceService | None = None) -> None:
        self.site = site
        self.clock = clock
        self.hooks = hooks
        self.pool = HostPool(hosts)
        self.fips = fips
        self.balance = balance
        self._leases: dict[str, Lease] = {}
        self._claims: dict[str, str] = {}  # hypervisor_hostname -> reservation id of the server on it

    @property
    def pace(self) -> Pace:
        scaled = self.clock.scaled
        return Pace(start=scaled(LEASE_START_SECONDS), create=scaled(LEASE_CREATE_SECONDS),
                    update=scaled(LEASE_UPDATE_SECONDS), end=scaled(LEASE_END_SECONDS),
                    delete=scaled(LEASE_DELETE_SECONDS))

    # -- HTTP -------------------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        self._tick()
        parts = [p for p in req.path.split("?", 1)[0].split("/") if p]
        routes: dict[tuple[str, int], dict[str, Callable[[Request, list[str]], Response]]] = {
            ("leases", 1): {"GET": self._list_leases, "POST": self._create_lease},
            ("leases", 2): {"GET": self._show_lease, "PUT": self._update_lease, "DELETE": self._delete_lease},
            ("os-hosts", 1): {"GET": lambda r, p: json_response(200, {"hosts": self.pool.all()})},
            ("os-hosts", 2): {"GET": self._host_or_listing},
            ("os-hosts", 3): {"GET": self._host_allocation},
        }
        table = routes.get((parts[0], len(parts))) if parts else None
        if table is None or (len(parts) == 3 and parts[2] != "allocation"):
            return error_response(404, "The resource could not be found.")
        handler = table.get(req.method)
        if handler is None:
            return error_response(405, f"The method {req.method} is not allowed for the requested URL.")
        try:
            return handler(req, parts)
        except BlazarError as exc:
            return exc.response()

    def _lease_for(self, req: Request, lease_id: str) -> Lease:
        lease = self._leases.get(lease_id)
        if lease is None:
            raise not_found("lease_id", lease_id)
        project = req.headers.get("x-twin-project-id")
        if project and lease.project_id != project:
            action = {"PUT": "put", "DELETE": "delete"}.get(req.method, "get")
            raise BlazarError(403, f"Policy doesn't allow blazar:leases:{action} to be performed.")
        return lease

    def _render(self, lease: Lease, status: str | None = None) -> dict[str, Any]:
        return render_lease(lease, self.clock.now(), self.pace, status)

    def _list_leases(self, req: Request, parts: list[str]) -> Response:
        project = req.headers.get("x-twin-project-id")
        leases = [self._render(x) for x in self._leases.values() if not project or x.project_id == project]
        return json_response(200, {"leases": leases})

    def _create_lease(self, req: Request, parts: list[str]) -> Response:
        lease = build_lease(req.body, self.clock.now(), req.headers.get("x-twin-user-id", ""),
                            req.headers.get("x-twin-project-id", ""), self.pool, self._holding(), self.fips)
        if self.balance is not None:  # the portal's check-create, after Blazar picked the hosts
            costs = {res.id: sum(self.pool.su_factor(h) for h in res.host_ids)
                     for res in lease.reservations if res.resource_type == HOST}
            self.balance.check_create(req.headers.get("x-twin-project-name", lease.project_id), self.site,
                                      lease.id, lease.start, lease.end, costs)
        self._leases[lease.id] = lease
        # Blazar answers once the lease is written (others saw it CREATING meanwhile) and before its
        # event loop has looked at it, so always PENDING.
        return Response(201, {"lease": self._render(lease, PENDING)}, delay=self.pace.create.total_seconds())

    def _show_lease(self, req: Request, parts: list[str]) -> Response:
        return json_response(200, {"lease": self._render(self._lease_for(req, parts[1]))})

    def _update_lease(self, req: Request, parts: list[str]) -> Response:
        lease = self._lease_for(req, parts[1])
        now = self.clock.now()
        if lease.status(now, self.pace) not in CAN_UPDATE_FROM:  # e.g. STARTING, UPDATING, DELETING
            raise BlazarError(500, INVALID_STATUS)
        before = (lease.name, lease.start, lease.end, lease.before_end, lease.edited_at)
        update_lease(lease, req.body, now, self.pool, self._holding())
        if self.balance is not None and (lease.start, lease.end) != before[1:3]:
            try:  # the portal's check-update; a refusal leaves the lease as it was
                self.balance.check_update(req.headers.get("x-twin-project-name", lease.project_id), lease.id,
                                          lease.start, lease.end)
            except BlazarError:
                lease.name, lease.start, lease.end, lease.before_end, lease.edited_at = before
                raise
        return Response(200, {"lease": self._render(lease)}, delay=self.pace.update.total_seconds())

    def _delete_lease(self, req: Request, parts: list[str]) -> Response:
        lease = self._lease_for(req, parts[1])
        now = self.clock.now()
        status = lease.status(now, self.pace)
        if status not in CAN_DELETE_FROM:  # already DELETING
            raise BlazarError(500, INVALID_STATUS)
        if status == STARTING:  # Blazar refuses while the start event runs
            raise BlazarError(409, f"Cannot delete lease in state {status}")
        self._release(lease)
        lease.deleted_at = now
        # Blazar's delete returns once the lease is destroyed; until then others see it DELETING.
        return Response(204, None, delay=self.pace.delete.total_seconds())

    def _host_or_listing(self, req: Request, parts: list[str]) -> Response:
        if parts[1] == "properties":
            detail = (req.arg("detail") or "").lower() in ("1", "true", "yes")
            return json_response(200, {"resource_properties": self.pool.properties(detail)})
        if parts[1] == "allocations":
            return json_response(200, {"allocations": self._allocations(req, None)})
        return json_response(200, {"host": self.pool.get(parts[1])})

    def _host_allocation(self, req: Request, parts: list[str]) -> Response:
        host = self.pool.get(parts[1])
        return json_response(200, {"allocation": self._allocations(req, [host["id"]])[0]})

    def _allocations(self, req: Request, host_ids: list[str] | None) -> list[dict[str, Any]]:
        detail = (req.arg("detail") or "").lower() in ("1", "true", "yes")
        return self.pool.allocations(self._leases.values(), self.clock.now(), host_ids, req.arg("lease_id"),
                                     req.arg("reservation_id"), detail, self.pace)

    # -- lifecycle --------------------------------------------------------------------------------

    def _holding(self) -> list[Lease]:
        return [lease for lease in self._leases.values() if not lease.released]

    def _tick(self) -> None:
        now, pace = self.clock.now(), self.pace
        for lease in list(self._leases.values()):
            if lease.gone(now, pace):
                del self._leases[lease.id]
                continue
            if lease.released:
                continue
            if lease.stable_status(now, pace) == ACTIVE and not lease.activated:
                lease.activated = True
                for res in lease.reservations:
                    if res.resource_type == FLOATING_IP and self.hooks is not None:
                        self.hooks.reserve_floating_ips(res.id, res.network_id, res.addresses)
            if now >= lease.end:  # TERMINATING, or an ERROR lease reaching its end
                self._release(lease)

    def _release(self, lease: Lease) -> None:
        """Give back hosts and floating IPs once: Blazar deletes the servers and FIPs at lease end,
        and the balance service stops charging (early deletion is charged up to now)."""
        if lease.released:
            return
        lease.released = True
        if self.balance is not None:
            self.balance.on_end(lease.id, self.clock.now())
        for res in lease.reservations:
            hostnames = [self.pool.hostname(h) for h in res.host_ids]
            for name in hostnames:
                if self._claims.get(name) == res.id:
                    del self._claims[name]
            if self.hooks is not None:
                self.hooks.release_reservation(res.id, hostnames)

    # -- for Nova, the admin endpoint and leak checks --------------------------------------------

    def claim_host(self, reservation_id: str) -> str | None:
        self._tick()
        now = self.clock.now()
        for lease in self._leases.values():
            for res in lease.reservations:
                if res.id != reservation_id or res.resource_type != HOST:
                    continue
                if lease.deleted_at is not None or lease.stable_status(now, self.pace) != ACTIVE:
                    return None
                for host_id in res.host_ids:
                    name = self.pool.hostname(host_id)
                    if name not in self._claims:
                        self._claims[name] = res.id
                        return name
                return None
        return None

    def release_host(self, hypervisor_hostname: str) -> None:
        self._claims.pop(hypervisor_hostname, None)

    def set_lease_error(self, lease_id: str) -> bool:
        self._tick()
        lease = self._leases.get(lease_id)
        if lease is None or lease.released:
            return False
        lease.error_at = self.clock.now()
        return True

    def set_degraded(self, lease_id: str, degraded: bool = True) -> bool:
        """A reserved node failed: the lease keeps its status and says `degraded`."""
        self._tick()
        lease = self._leases.get(lease_id)
        if lease is None or lease.deleted_at is not None:
            return False
        lease.degraded = degraded
        return True

    def exhaust(self, node_type: str) -> int:
        """Make every host of a type unreservable (like an operator taking them out of Blazar)."""
        return self.pool.set_unreservable(node_type)

    def tick(self) -> None:
        """Bring leases up to date with the clock (start/end hooks included), without building a snapshot.

        Callers that only need the side effects, such as the app before each Nova or Neutron request,
        use this rather than paying for `snapshot()`.
        """
        self._tick()

    def snapshot(self) -> dict[str, Any]:
        self._tick()
        now = self.clock.now()
        leases = []
        for lease in self._leases.values():
            status = lease.status(now, self.pace)
            leases.append({
                "id": lease.id, "name": lease.name, "project_id": lease.project_id, "status": status,
                "degraded": lease.degraded,
                "start_date": blazar_date(lease.start), "end_date": blazar_date(lease.end),
                "holds_resources": not lease.released,
                "reservations": [{"id": r.id, "resource_type": r.resource_type,
                                  "hosts": [self.pool.hostname(h) for h in r.host_ids],
                                  **({"network_id": r.network_id, "amount": r.amount, "addresses": r.addresses}
                                     if r.resource_type == FLOATING_IP else {})}
                                 for r in lease.reservations],
            })
        allocations = [a for a in self.pool.allocations(self._holding(), now) if a["reservations"]]
        unreservable = [h["id"] for h in self.pool.all() if not h.get("reservable")]
        return {"site": self.site, "leases": leases, "allocations": allocations, "claims": dict(self._claims),
                "unreservable_hosts": unreservable,
                "reserved_floating_ip_pool": len(self.fips.addresses()) if self.fips is not None else None}
