"""Nova 2.1 (max microversion 2.96) for one twin site: the baremetal flavor, keypairs and servers.

Paths are relative to `/{site}/compute`. This module negotiates the microversion and routes;
keypairs live in `nova_keypairs`, server records and create-request checks in `nova_servers`,
and the error type in `nova_errors`. Their public names are re-exported here for callers.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from chameleon_twin.clock import Clock
from chameleon_twin.glance import Glance
from chameleon_twin.http import Request, Response, json_response, no_content
from chameleon_twin.neutron import Neutron
from chameleon_twin.nova_errors import NovaError, nova_error
from chameleon_twin.nova_keypairs import KEY_TYPES, Keypairs, fingerprint
from chameleon_twin.nova_servers import NO_VALID_HOST, HostClaims, Server, build_server, listed, parse_launch

__all__ = ["FLAVOR_NAMESPACE", "KEY_TYPES", "MAX_VERSION", "NO_VALID_HOST", "HostClaims", "Keypairs", "Nova",
           "NovaError", "Server", "fingerprint", "nova_error"]

MAX_VERSION = (2, 96)
FLAVOR_NAMESPACE = uuid.UUID("c9a0e7d4-1b2f-4c3d-8e5f-7a6b9c0d1e32")


def _microversion(req: Request) -> tuple[int, int]:
    raw = req.headers.get("openstack-api-version", "").removeprefix("compute").strip() or \
        req.headers.get("x-openstack-nova-api-version", "")
    if not raw:
        return 2, 1
    if raw == "latest":
        return MAX_VERSION
    try:
        major, minor = (int(p) for p in raw.split("."))
    except ValueError:
        raise NovaError(400, f"API Version String {raw} is of invalid format. Must be of format "
                             "MajorNum.MinorNum.") from None
    if not (2, 1) <= (major, minor) <= MAX_VERSION:
        raise NovaError(406, f"Version {raw} is not supported by the API. Minimum is 2.1 and maximum is "
                             f"{MAX_VERSION[0]}.{MAX_VERSION[1]}.")
    return major, minor


class Nova:
    def __init__(self, site: str, site_uid: str, clock: Clock, glance: Glance, neutron: Neutron,
                 mac_for: Callable[[str], str] | None = None) -> None:
        self.site, self.uid, self.clock = site, site_uid, clock
        self.glance, self.neutron = glance, neutron
        self.blazar: HostClaims | None = None  # wired by the site once Blazar exists
        self.mac_for = mac_for or (lambda host: "fa:16:3e:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3)))
        self.keypairs = Keypairs(clock)
        self.servers: dict[str, Server] = {}
        self._instance_counter = 0
        flavor_id = str(uuid.uuid5(FLAVOR_NAMESPACE, f"{site_uid}/baremetal"))
        # Resource-class scheduling: the flavor asks Placement for one whole bare-metal node.
        self.flavor: dict[str, Any] = {
            "id": flavor_id, "name": "baremetal", "ram": 1024, "disk": 20, "vcpus": 1, "swap": 0,
            "OS-FLV-EXT-DATA:ephemeral": 0, "OS-FLV-DISABLED:disabled": False,
            "os-flavor-access:is_public": True, "rxtx_factor": 1.0, "description": None,
            "extra_specs": {"resources:CUSTOM_BAREMETAL": "1", "resources:VCPU": "0",
                            "resources:MEMORY_MB": "0", "resources:DISK_GB": "0"}}

    def public(self, path: str) -> bool:
        return path.rstrip("/") in ("", "/v2.1")

    # --- used by Blazar's hooks and the admin endpoint ------------------------------------

    def delete_on_hosts(self, hostnames: list[str]) -> list[str]:
        """Delete the servers on these hosts (their lease ended); Blazar frees the hosts itself."""
        gone = [s.id for s in self.servers.values() if s.host in hostnames]
        for server_id in gone:
            self._delete(self.servers[server_id], release=False)
        return gone

    def set_error(self, server_id: str, message: str) -> bool:
        server = self.servers.get(server_id)
        if server is None:
            return False
        server.force_error(self.clock.now(), message)
        return True

    def state(self) -> dict:
        now, links = self.clock.now(), self._base_links("")
        return {"keypairs": self.keypairs.state(),
                "servers": [s.record(now, links, self.flavor, self.neutron) for s in self.servers.values()]}

    # --- HTTP ---------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        try:
            _microversion(req)  # refuse what the real API would; the shapes are always 2.96's
            response = self._route(req)
        except NovaError as err:
            response = nova_error(err.status, err.message)
        headers = {"OpenStack-API-Version": "compute 2.96", "X-OpenStack-Nova-API-Version": "2.96",
                   "Vary": "OpenStack-API-Version, X-OpenStack-Nova-API-Version",
                   "x-compute-request-id": f"req-{uuid.uuid4()}", **response.headers}
        return Response(response.status, response.body, headers)

    def _route(self, req: Request) -> Response:
        path, method = req.path.rstrip("/"), req.method
        base = f"{req.base_url}/{self.uid}/compute"
        if path == "":
            return json_response(200, {"versions": [self._version_doc(base)]})
        if path == "/v2.1":
            return json_response(200, {"version": self._version_doc(base)})
        if not path.startswith("/v2.1/"):
            raise NovaError(404, "The resource could not be found.")
        parts = path[len("/v2.1/"):].split("/")
        user = req.headers.get("x-twin-user-id", "")
        project = req.headers.get("x-twin-project-id", "")
        if parts[0] == "flavors":
            return self._flavors(method, parts[1:], base)
        if parts[0] == "os-keypairs":
            return self.keypairs.handle(method, parts[1:], req.body, user)
        if parts[0] == "servers":
            return self._servers(req, parts[1:], base, user, project)
        raise NovaError(404, "The resource could not be found.")

    def _version_doc(self, base: str) -> dict:
        return {"id": "v2.1", "status": "CURRENT", "version": "2.96", "min_version": "2.1",
                "updated": "2013-07-23T11:33:21Z",
                "links": [{"rel": "self", "href": f"{base}/v2.1/"},
                          {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"}],
                "media-types": [{"base": "application/json",
                                 "type": "application/vnd.openstack.compute+json;version=2.1"}]}

    def _base_links(self, base: str) -> Callable[[str, str], list[dict]]:
        def links(kind: str, item_id: str) -> list[dict]:
            return [{"rel": "self", "href": f"{base}/v2.1/{kind}/{item_id}"},
                    {"rel": "bookmark", "href": f"{base}/{kind}/{item_id}"}]
        return links

    def _flavors(self, method: str, rest: list[str], base: str) -> Response:
        if method != "GET":
            raise NovaError(403, "Policy doesn't allow os_compute_api:os-flavor-manage:create to be performed.")
        flavor = {**self.flavor, "links": self._base_links(base)("flavors", self.flavor["id"])}
        if rest in ([], ["detail"]):
            items = [flavor] if rest else [{k: flavor[k] for k in ("id", "name", "links", "description")}]
            return json_response(200, {"flavors": items})
        if rest[0] != flavor["id"]:
            raise NovaError(404, f"Flavor {rest[0]} could not be found.")
        if rest[1:] == []:
            return json_response(200, {"flavor": flavor})
        if rest[1:] == ["os-extra_specs"]:
            return json_response(200, {"extra_specs": dict(flavor["extra_specs"])})
        raise NovaError(404, "The resource could not be found.")

    def _servers(self, req: Request, rest: list[str], base: str, user: str, project: str) -> Response:
        now = self.clock.now()
        links = self._base_links(base)
        hidden = ("OS-EXT-SRV-ATTR:user_data",) if _microversion(req) < (2, 3) else ()  # shown from 2.3 on

        def record(s: Server) -> dict:
            doc = s.record(now, links, self.flavor, self.neutron)
            for key in hidden:
                doc.pop(key, None)
            return doc

        mine = {s.id: s for s in self.servers.values() if s.project_id == project}
        if rest in ([], ["detail"]) and req.method == "GET":
            found = [s for s in mine.values() if listed(s, req, now)]
            found.sort(key=lambda s: (s.created, s.id), reverse=True)
            if rest:
                return json_response(200, {"servers": [record(s) for s in found]})
            return json_response(200, {"servers": [{"id": s.id, "name": s.name, "links": links("servers", s.id)}
                                                   for s in found]})
        if rest == [] and req.method == "POST":
            server = self._create(req.body, user, project, now)
            return json_response(202, {"server": {"id": server.id, "links": links("servers", server.id),
                                                  "OS-DCF:diskConfig": "MANUAL",
                                                  "security_groups": [{"name": "default"}],
                                                  "adminPass": server.admin_pass}},
                                 Location=f"{base}/v2.1/servers/{server.id}")
        target = mine.get(rest[0])
        if target is None:
            raise NovaError(404, f"Instance {rest[0]} could not be found.")
        if rest[1:] == [] and req.method == "GET":
            return json_response(200, {"server": record(target)})
        if rest[1:] == [] and req.method == "DELETE":
            self._delete(target, release=True)
            return no_content()
        raise NovaError(404, "The resource could not be found.")

    def _create(self, body: Any, user: str, project: str, now: datetime) -> Server:
        launch = parse_launch(body, user, self.glance, self.neutron, self.keypairs, self.flavor["id"])
        reservation = launch.reservation
        host = self.blazar.claim_host(str(reservation)) if reservation and self.blazar else None
        self._instance_counter += 1
        server = build_server(launch, user=user, project=project, now=now, host=host, clock=self.clock,
                              instance_name=f"instance-{self._instance_counter:08x}", site_uid=self.uid)
        if host is not None:
            for net_id in launch.network_ids:  # Ironic plugs the node's own NIC into the network
                self.neutron.create_port(net_id, server.id, project, self.mac_for(host))
        self.servers[server.id] = server
        return server

    def _delete(self, server: Server, release: bool) -> None:
        self.neutron.delete_ports(server.id)
        del self.servers[server.id]
        if release and server.host and self.blazar:
            self.blazar.release_host(server.host)
