"""Neutron v2.0 for one twin site: sharednet1, public, server ports and floating IPs.

Paths are relative to `/{site}/network`. Nova creates and deletes ports through `create_port` /
`delete_ports`; Blazar's floating-IP reservations come in through `reserve_floating_ips`. The
record shapes, list filters and site address plans are in `neutron_records`.

Ad hoc floating IPs are limited by the project's `floatingip` quota (Neutron's default, 50, unless
the admin endpoint sets another): every floating IP the project holds counts, reserved ones too,
and a create beyond it is Neutron's `409 OverQuota "Quota exceeded for resources: ['floatingip']."`.
"""

from __future__ import annotations

import re
import uuid

from chameleon_twin.clock import Clock, iso_z
from chameleon_twin.http import Request, Response, json_response, no_content
from chameleon_twin.neutron_records import (
    SITE_NETWORKS,
    builtin_networks,
    filter_records,
    floating_ip_record,
    port_record,
    usable_hosts,
)

NET_NAMESPACE = uuid.UUID("a3d2b1f0-6c1e-4b6d-8f0e-3e5b7c9d1a24")
DEFAULT_FLOATINGIP_QUOTA = 50  # neutron's quota_floatingip default


class NeutronError(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message

    def response(self) -> Response:
        return json_response(self.status, {"NeutronError": {"type": self.kind, "message": self.message, "detail": ""}})


class Neutron:
    def __init__(self, site_uid: str, project_id: str, clock: Clock) -> None:
        self.uid, self.project_id, self.clock = site_uid, project_id, clock
        self.cfg = SITE_NETWORKS[site_uid]
        self.sharednet, self.public, self.subnets = builtin_networks(self.cfg, self._id)
        self.networks = {n["id"]: n for n in (self.sharednet, self.public)}
        self.router_id = self._id("router/sharednet1")
        self.ports: dict[str, dict] = {}
        self.fips: dict[str, dict] = {}
        self.adhoc_limit: int | None = None  # set by the admin endpoint to exhaust the ad-hoc pool
        self.floatingip_quota: dict[str, int] = {}  # per project; DEFAULT_FLOATINGIP_QUOTA otherwise

    def _id(self, name: str) -> str:
        return str(uuid.uuid5(NET_NAMESPACE, f"{self.uid}/{name}"))

    def _now(self) -> str:
        return iso_z(self.clock.now())

    # --- used by Nova, Blazar and the admin endpoint --------------------------------------

    def network(self, ref: str) -> dict | None:
        return self.networks.get(ref) or next((n for n in self.networks.values() if n["name"] == ref), None)

    def create_port(self, network_id: str, device_id: str, project_id: str, mac: str) -> dict:
        used = {ip["ip_address"] for p in self.ports.values() for ip in p["fixed_ips"]}
        address = next(a for a in usable_hosts(self.cfg.shared_cidr) if a not in used)
        subnet_id = self.networks[network_id]["subnets"][0]
        port = port_record(str(uuid.uuid4()), network_id, subnet_id, address, device_id, project_id, mac, self._now())
        self.ports[port["id"]] = port
        return port

    def delete_ports(self, device_id: str) -> None:
        """Delete a server's ports; floating IPs on them are disassociated, not deleted."""
        for port_id in [p["id"] for p in self.ports.values() if p["device_id"] == device_id]:
            for fip in self.fips.values():
                if fip["port_id"] == port_id:
                    self._associate(fip, None)
            del self.ports[port_id]

    def device_addresses(self, device_id: str) -> dict[str, list[dict]]:
        """Nova's `addresses` for a server: fixed IPs per network, plus any floating IP on them."""
        addresses: dict[str, list[dict]] = {}
        for port in self.ports.values():
            if port["device_id"] != device_id:
                continue
            entries = addresses.setdefault(self.networks[port["network_id"]]["name"], [])
            for ip in port["fixed_ips"]:
                entries.append({"version": 4, "addr": ip["ip_address"], "OS-EXT-IPS:type": "fixed",
                                "OS-EXT-IPS-MAC:mac_addr": port["mac_address"]})
            for fip in self.fips.values():
                if fip["port_id"] == port["id"]:
                    entries.append({"version": 4, "addr": fip["floating_ip_address"], "OS-EXT-IPS:type": "floating",
                                    "OS-EXT-IPS-MAC:mac_addr": port["mac_address"]})
        return addresses

    def reserve_floating_ips(self, reservation_id: str, network_id: str, addresses: list[str]) -> None:
        """Blazar's virtual:floatingip start: the addresses it allocated, from its separate pool, tagged."""
        if network_id != self.public["id"]:
            raise NeutronError(404, "NetworkNotFound", f"Network {network_id} could not be found.")
        tags = ["blazar", f"reservation:{reservation_id}"]
        taken = {f["floating_ip_address"] for f in self.fips.values()}
        for address in addresses:
            if address in taken:
                raise NeutronError(409, "IpAddressAlreadyAllocated",
                                   f"IP address {address} already allocated in subnet {self.public['subnets'][0]}")
            fip = floating_ip_record(str(uuid.uuid4()), address, self.public["id"], self.project_id, self._now(),
                                     tags=tags, description=tags[1])
            self.fips[fip["id"]] = fip

    def reserved_range(self) -> list[str]:
        """Every address of the site's range for Blazar's reservable floating IPs."""
        return usable_hosts(self.cfg.reserved)

    def quota(self, project: str) -> int:
        return self.floatingip_quota.get(project, DEFAULT_FLOATINGIP_QUOTA)

    def release_reservation_fips(self, reservation_id: str) -> None:
        tag = f"reservation:{reservation_id}"
        for fip_id in [f["id"] for f in self.fips.values() if tag in f["tags"]]:
            del self.fips[fip_id]

    def exhaust_adhoc_pool(self) -> int:
        """Make the next ad-hoc floating IP create fail; returns how many are allocated now."""
        self.adhoc_limit = sum(1 for f in self.fips.values() if f["floating_ip_address"] in self._adhoc_set())
        return self.adhoc_limit

    def state(self) -> dict:
        return {"floating_ips": list(self.fips.values()), "ports": list(self.ports.values())}

    # --- HTTP ---------------------------------------------------------------------------

    def public_path(self, path: str) -> bool:
        return path.rstrip("/") in ("", "/v2.0")

    def handle(self, req: Request) -> Response:
        try:
            return self._route(req)
        except NeutronError as err:
            return err.response()

    def _route(self, req: Request) -> Response:
        path = req.path.rstrip("/")
        if path == "":
            return json_response(200, {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [
                {"rel": "self", "href": f"{req.base_url}/{self.uid}/network/v2.0/"}]}]})
        if path == "/v2.0":
            return json_response(200, {"resources": [
                {"name": n, "collection": f"{n}s", "links": [
                    {"rel": "self", "href": f"{req.base_url}/{self.uid}/network/v2.0/{n}s"}]}
                for n in ("network", "subnet", "port", "floatingip")]})
        match = re.fullmatch(r"/v2\.0/(networks|subnets|ports|floatingips)(?:/([^/]+))?", path)
        if not match:
            return json_response(404, {"NeutronError": {"type": "HTTPNotFound", "message":
                                                        "The resource could not be found.", "detail": ""}})
        collection, item = match.groups()
        if collection == "floatingips":
            return self._floatingips(req, item)
        if req.method != "GET":
            raise NeutronError(403, "PolicyNotAuthorized", f"rule:create_{collection[:-1]} is disallowed by policy")
        records = {"networks": self.networks, "subnets": self.subnets, "ports": self._own(self.ports, req)}[collection]
        singular = collection[:-1]
        if item is None:
            return json_response(200, {collection: filter_records(list(records.values()), req.query)})
        if item not in records:
            kind = {"networks": "Network", "subnets": "Subnet", "ports": "Port"}[collection]
            raise NeutronError(404, f"{kind}NotFound", f"{kind} {item} could not be found.")
        return json_response(200, {singular: records[item]})

    def _own(self, records: dict[str, dict], req: Request) -> dict[str, dict]:
        project = req.headers.get("x-twin-project-id")
        return {k: r for k, r in records.items() if project is None or r["project_id"] == project}

    def _floatingips(self, req: Request, item: str | None) -> Response:
        fips = self._own(self.fips, req)
        if item is None:
            if req.method == "GET":
                return json_response(200, {"floatingips": filter_records(list(fips.values()), req.query)})
            if req.method == "POST":
                return json_response(201, {"floatingip": self._create(req)})
            raise NeutronError(405, "HTTPMethodNotAllowed", f"The method {req.method} is not allowed.")
        fip = fips.get(item)
        if fip is None:
            raise NeutronError(404, "FloatingIPNotFound", f"Floating IP {item} could not be found")
        if req.method == "GET":
            return json_response(200, {"floatingip": fip})
        if req.method == "DELETE":
            del self.fips[item]
            return no_content()
        if req.method == "PUT":
            body = (req.body or {}).get("floatingip") if isinstance(req.body, dict) else None
            if not isinstance(body, dict):
                raise NeutronError(400, "HTTPBadRequest", "Resource body required")
            if "port_id" in body:
                self._associate(fip, body["port_id"], req.headers.get("x-twin-project-id"))
            if "description" in body:
                fip["description"] = str(body["description"] or "")
                self._touch(fip)
            return json_response(200, {"floatingip": fip})
        raise NeutronError(405, "HTTPMethodNotAllowed", f"The method {req.method} is not allowed.")

    def _create(self, req: Request) -> dict:
        body = req.body.get("floatingip") if isinstance(req.body, dict) else None
        if not isinstance(body, dict) or not body.get("floating_network_id"):
            raise NeutronError(400, "HTTPBadRequest", "Invalid input for floating_network_id. Reason: "
                                                      "'None' is not a valid UUID.")
        if body.get("floating_ip_address"):
            raise NeutronError(403, "PolicyNotAuthorized",
                               "(rule:create_floatingip and rule:create_floatingip:floating_ip_address) "
                               "is disallowed by policy")
        net_id = body["floating_network_id"]
        network = self.networks.get(net_id)
        if network is None:
            raise NeutronError(404, "NetworkNotFound", f"Network {net_id} could not be found.")
        if not network["router:external"]:
            raise NeutronError(400, "BadRequest", f"Bad floatingip request: Network {net_id} is not a valid "
                                                  "external network.")
        project = req.headers.get("x-twin-project-id") or self.project_id
        if sum(1 for f in self.fips.values() if f["project_id"] == project) >= self.quota(project):
            raise NeutronError(409, "OverQuota", "Quota exceeded for resources: ['floatingip'].")
        fip = self._new_fip(self.cfg.adhoc, self.adhoc_limit, project, tags=[],
                            description=str(body.get("description") or ""))
        if body.get("port_id"):
            self._associate(fip, body["port_id"], project)
        return fip

    def _adhoc_set(self) -> set[str]:
        return set(usable_hosts(self.cfg.adhoc))

    def _new_fip(self, pool: str, limit: int | None, project: str, tags: list[str], description: str) -> dict:
        candidates = usable_hosts(pool)
        used = {f["floating_ip_address"] for f in self.fips.values()}
        in_use = sum(1 for a in candidates if a in used)
        free = [a for a in candidates if a not in used]
        if not free or (limit is not None and in_use >= limit):
            raise NeutronError(409, "IpAddressGenerationFailure",
                               f"No more IP addresses available on network {self.public['id']}.")
        fip = floating_ip_record(str(uuid.uuid4()), free[0], self.public["id"], project, self._now(),
                                 tags=tags, description=description)
        self.fips[fip["id"]] = fip
        return fip

    def _associate(self, fip: dict, port_id: str | None, project: str | None = None) -> None:
        if port_id is None:
            fip.update(port_id=None, fixed_ip_address=None, router_id=None, status="DOWN", port_details=None)
            self._touch(fip)
            return
        port = self.ports.get(port_id)
        if port is None or (project is not None and port["project_id"] != project):
            raise NeutronError(404, "PortNotFound", f"Port {port_id} could not be found.")
        fixed = port["fixed_ips"][0]["ip_address"]
        other = next((f for f in self.fips.values() if f["port_id"] == port_id and f is not fip), None)
        if other is not None:
            raise NeutronError(409, "FloatingIPPortAlreadyAssociated",
                               f"Cannot associate floating IP {fip['floating_ip_address']} ({fip['id']}) with port "
                               f"{port_id} using fixed IP {fixed}, as that fixed IP already has a floating IP on "
                               f"external network {self.public['id']}.")
        fip.update(port_id=port_id, fixed_ip_address=fixed, router_id=self.router_id, status="ACTIVE",
                   port_details={"name": port["name"], "network_id": port["network_id"],
                                 "mac_address": port["mac_address"], "admin_state_up": True, "status": "ACTIVE",
                                 "device_id": port["device_id"], "device_owner": port["device_owner"]})
        self._touch(fip)

    def _touch(self, record: dict) -> None:
        record["updated_at"] = self._now()
        record["revision_number"] += 1
