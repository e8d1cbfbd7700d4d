"""The twin's sites and its URL layout: which service answers which path, and who needs a token.

    /                                   a small index (JSON)
    /api/...                            resource discovery (shared by the sites, no auth)
    /_twin/...                          admin and fault injection (no auth)
    /{uc,tacc,ncar}/identity/...        Keystone of CHI@UC / CHI@TACC / CHI@NCAR
    /{site}/compute/...                 Nova          /{site}/image/...     Glance
    /{site}/network/...                 Neutron       /{site}/reservation/v1/...  Blazar

Every service call except version discovery needs a token from the same site's Keystone. The
service-unit balance is the portal's, so one `BalanceService` serves every site.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from chameleon_twin import inventory
from chameleon_twin.balance import BalanceService
from chameleon_twin.blazar import BlazarService
from chameleon_twin.blazar_fips import FloatingIpPool
from chameleon_twin.clock import DEFAULT_SPEED, Clock
from chameleon_twin.discovery import DiscoveryService
from chameleon_twin.faults import AdminService, FaultInjector
from chameleon_twin.glance import Glance
from chameleon_twin.http import Request, Response, json_response
from chameleon_twin.keystone import UNAUTHORIZED, Keystone
from chameleon_twin.neutron import Neutron, NeutronError
from chameleon_twin.nova import Nova


class Site:
    """One Chameleon bare-metal site. Also Blazar's hooks into Nova and Neutron (BlazarHooks)."""

    def __init__(self, name: str, uid: str, clock: Clock, balance: BalanceService | None = None) -> None:
        self.name, self.uid = name, uid
        self.keystone = Keystone(name, uid)
        self.glance = Glance(uid)
        self.neutron = Neutron(uid, self.keystone.project_id, clock)
        # Ironic plugs the node's first NIC into the tenant network, so ports carry its real MAC.
        macs: dict[str, str] = {n["uid"]: n["network_adapters"][0]["mac"] for n in inventory.node_records(uid)
                                if n.get("network_adapters")}
        self.nova = Nova(name, uid, clock, self.glance, self.neutron, mac_for=lambda host: macs.get(host, ""))
        fips = FloatingIpPool(self.neutron.public["id"], self.neutron.reserved_range())
        self.blazar = BlazarService(name, inventory.blazar_hosts(uid), clock, hooks=self, fips=fips,
                                    balance=balance)
        self.nova.blazar = self.blazar

    def settle(self) -> dict[str, Any]:
        """Bring Blazar up to date with the clock (its snapshot does), so an ended lease's servers
        and floating IPs are gone before Nova or Neutron answer, as on Chameleon."""
        return self.blazar.snapshot()

    def reserve_floating_ips(self, reservation_id: str, network_id: str, addresses: list[str]) -> None:
        try:
            self.neutron.reserve_floating_ips(reservation_id, network_id, addresses)
        except NeutronError as err:  # the lease still starts; it just gets no (or fewer) addresses
            print(f"twin: {self.name}: floating IP reservation {reservation_id}: {err.message}", file=sys.stderr)

    def release_reservation(self, reservation_id: str, hostnames: list[str]) -> None:
        self.nova.delete_on_hosts(hostnames)
        self.neutron.release_reservation_fips(reservation_id)

    def state(self) -> dict[str, Any]:
        blazar = self.settle()  # first: an ended lease takes its servers and addresses with it
        nova, neutron = self.nova.state(), self.neutron.state()
        return {"region": self.name, "keypairs": nova["keypairs"], "servers": nova["servers"],
                "floating_ips": neutron["floating_ips"], "ports": neutron["ports"], "blazar": blazar}


class TwinApp:
    """All twin state behind one lock; `dispatch` takes a Request whose path is the full URL path."""

    def __init__(self, speed: float = DEFAULT_SPEED) -> None:
        self.speed = speed
        self.lock = threading.RLock()
        self.faults = FaultInjector()
        self.discovery = DiscoveryService()
        self.admin = AdminService(self)
        self.reset()

    def reset(self) -> None:
        """Fresh sites, a clock with no offset and no pending faults, as at start-up."""
        with self.lock:
            self.clock = Clock(self.speed)
            self.balance = BalanceService()
            self.sites = {name: Site(name, uid, self.clock, self.balance) for name, uid in inventory.SITES.items()}
            self.faults.remove()

    def site(self, ref: str) -> Site | None:
        """A site by region name ("CHI@UC") or path prefix ("uc"), case-insensitively."""
        ref = ref.lower()
        return next((s for s in self.sites.values() if ref in (s.name.lower(), s.uid)), None)

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {"now": self.clock.now().isoformat(), "speed": self.clock.speed,
                    "sites": {name: site.state() for name, site in self.sites.items()},
                    "balance": self.balance.state(), "faults": self.faults.rules()}

    def dispatch(self, req: Request) -> Response:
        path = req.path
        if path == "/_twin" or path.startswith("/_twin/"):
            with self.lock:
                return self.admin.handle(replace(req, path=path[len("/_twin"):]))
        injected = self.faults.take(req.method, path, urlencode(req.query, doseq=True))
        if injected is not None:
            return injected
        if path == "/api" or path.startswith("/api/"):
            return self.discovery.handle(replace(req, path=path[len("/api"):] or "/"))
        if path in ("", "/"):
            return json_response(200, self._index(req.base_url))
        head, _, rest = path.lstrip("/").partition("/")
        site = next((s for s in self.sites.values() if s.uid == head), None)
        service, _, sub = rest.partition("/")
        sub = f"/{sub}" if sub or rest.endswith("/") else ""
        if site is None:
            return json_response(404, {"error": f"no twin route for {path}"})
        with self.lock:
            return self._site_dispatch(site, service, sub, req)

    def _site_dispatch(self, site: Site, service: str, sub: str, req: Request) -> Response:
        if service == "identity":
            return site.keystone.handle(replace(req, path=sub))
        if service in ("compute", "network"):
            # An ended lease's servers and floating IPs must be gone before Nova or Neutron answer.
            site.blazar.tick()
        if service == "reservation" and sub.rstrip("/") == "":
            href = f"{req.base_url}/{site.uid}/reservation/v1/"
            return json_response(300, {"versions": [{"id": "v1.0", "status": "CURRENT",
                                                     "links": [{"rel": "self", "href": href}]}]})
        handlers = {"compute": (site.nova.handle, site.nova.public),
                    "image": (site.glance.handle, site.glance.public),
                    "network": (site.neutron.handle, site.neutron.public_path)}
        if service == "reservation" and (sub == "/v1" or sub.startswith("/v1/")):
            handler, public, sub = site.blazar.handle, (lambda _p: False), sub[len("/v1"):]
        elif service in handlers:
            handler, public = handlers[service]
        else:
            return json_response(404, {"error": f"no service {service!r} at {site.name}"})
        headers = {k: v for k, v in req.headers.items() if not k.startswith("x-twin-")}
        if not public(sub):
            token = site.keystone.verify(req.headers.get("x-auth-token"))
            if token is None or not token.project_id:
                return Response(401, UNAUTHORIZED, {
                    "WWW-Authenticate": f'Keystone uri="{req.base_url}/{site.uid}/identity"'})
            headers.update({"x-twin-project-id": token.project_id, "x-twin-user-id": token.user_id,
                            "x-twin-project-name": site.keystone.project_name(token.project_id)})
        return handler(replace(req, path=sub, headers=headers))

    def _index(self, base_url: str) -> dict[str, Any]:
        return {"name": "chameleon-twin", "discovery": f"{base_url}/api", "admin": f"{base_url}/_twin",
                "sites": {s.name: {"auth_url": f"{base_url}/{s.uid}/identity/v3"} for s in self.sites.values()}}
