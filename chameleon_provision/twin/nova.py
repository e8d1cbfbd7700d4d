"""Nova 2.1 (max microversion 2.96) for one twin site: the baremetal flavor, keypairs and servers.

Paths are relative to `/{site}/compute`. Server states are worked out from the clock whenever a
server is read, so nothing runs in the background: BUILD until the bare-metal deploy time has
passed, then ACTIVE; or ERROR (no valid host) shortly after creation when Blazar had no host.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from chameleon_provision.twin.clock import SERVER_BOOT_SECONDS, SERVER_SCHEDULE_SECONDS, Clock, iso_z
from chameleon_provision.twin.glance import Glance
from chameleon_provision.twin.http import Request, Response, json_response, no_content
from chameleon_provision.twin.neutron import Neutron

MAX_VERSION = (2, 96)
FLAVOR_NAMESPACE = uuid.UUID("c9a0e7d4-1b2f-4c3d-8e5f-7a6b9c0d1e32")
NO_VALID_HOST = "No valid host was found. There are not enough hosts available."
KEY_TYPES = ("ssh-rsa", "ssh-ed25519", "ssh-dss", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521")
_KEY_NAME = re.compile(r"^[a-zA-Z0-9 @._-]{1,255}$")  # 2.92+ rule
_FAULT_KEYS = {400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound", 405: "badMethod",
               409: "conflictingRequest", 429: "overLimit", 501: "notImplemented", 503: "serviceUnavailable"}


class HostClaims(Protocol):
    def claim_host(self, reservation_id: str) -> str | None: ...
    def release_host(self, hypervisor_hostname: str) -> None: ...


class NovaError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def nova_error(status: int, message: str) -> Response:
    return json_response(status, {_FAULT_KEYS.get(status, "computeFault"): {"code": status, "message": message}})


def fingerprint(public_key: str) -> str:
    """Nova's keypair fingerprint: MD5 of the decoded key blob, colon-separated hex."""
    fields = public_key.split()
    if len(fields) < 2 or fields[0] not in KEY_TYPES:
        raise NovaError(400, "Keypair data is invalid: failed to generate fingerprint")
    try:
        blob = base64.b64decode(fields[1], validate=True)
    except (binascii.Error, ValueError):
        raise NovaError(400, "Keypair data is invalid: failed to generate fingerprint") from None
    # The blob starts with the length-prefixed key type; a mismatch means a corrupt key.
    if blob[4:4 + int.from_bytes(blob[:4], "big")] != fields[0].encode():
        raise NovaError(400, "Keypair data is invalid: failed to generate fingerprint")
    digest = hashlib.md5(blob).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, 32, 2))


class Keypairs:
    """Nova keypairs (2.10 shapes), owned per user. Keys arrive generated: Nova never makes one here."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.items: dict[tuple[str, str], dict] = {}
        self._next_id = 0

    def get(self, user: str, name: str) -> dict | None:
        return self.items.get((user, name))

    def state(self) -> list[dict]:
        return list(self.items.values())

    def handle(self, method: str, rest: list[str], body: Any, user: str) -> Response:
        if rest == [] and method == "GET":
            return json_response(200, {"keypairs": [
                {"keypair": {k: kp[k] for k in ("name", "public_key", "fingerprint", "type")}}
                for (owner, _), kp in sorted(self.items.items()) if owner == user]})
        if rest == [] and method == "POST":
            return json_response(201, {"keypair": self._create(body, user)})
        if len(rest) != 1:
            raise NovaError(404, "The resource could not be found.")
        keypair = self.items.get((user, rest[0]))
        if keypair is None:
            raise NovaError(404, f"Keypair {rest[0]} not found for user {user}")
        if method == "GET":
            return json_response(200, {"keypair": keypair})
        if method == "DELETE":
            del self.items[(user, rest[0])]
            return no_content()
        raise NovaError(405, "The method specified is not allowed for this resource.")

    def _create(self, body: Any, user: str) -> dict:
        spec = body.get("keypair") if isinstance(body, dict) else None
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise NovaError(400, "Invalid input for field/attribute keypair. Value: None. 'name' is a required "
                                 "property")
        name, public_key = spec["name"], spec.get("public_key")
        if not _KEY_NAME.match(name):
            raise NovaError(400, f"Invalid input for field/attribute name. Value: {name}. '{name}' does not "
                                 "match '^[a-zA-Z0-9 @._-]+$'")
        if not isinstance(public_key, str):
            # Since 2.92 Nova refuses to generate keys; the CLI always sends one.
            raise NovaError(400, f"Invalid input for field/attribute keypair. Value: {spec}. 'public_key' is "
                                 "a required property")
        if spec.get("type", "ssh") != "ssh":
            raise NovaError(400, "Keypair data is invalid: only ssh keys are supported by the twin")
        if (user, name) in self.items:
            raise NovaError(409, f"Key pair '{name}' already exists.")
        self._next_id += 1
        keypair = {"name": name, "public_key": public_key.strip(), "fingerprint": fingerprint(public_key),
                   "type": "ssh", "user_id": user, "created_at": self.clock.now().strftime("%Y-%m-%dT%H:%M:%S.%f"),
                   "deleted": False, "deleted_at": None, "updated_at": None, "id": self._next_id}
        self.items[(user, name)] = keypair
        return {k: keypair[k] for k in ("name", "public_key", "fingerprint", "type", "user_id", "created_at")}


@dataclass
class Server:
    id: str
    name: str
    project_id: str
    user_id: str
    image_id: str
    key_name: str | None
    created: datetime
    host: str | None  # the Ironic node (Blazar hypervisor_hostname); None when scheduling failed
    reservation: str | None
    ready_at: datetime | None
    fail_at: datetime | None
    instance_name: str
    site_uid: str
    admin_pass: str
    reservation_ref: str  # Nova's own "r-…" launch id, unrelated to Blazar
    metadata: dict = field(default_factory=dict)
    fault: dict | None = None
    forced_error_at: datetime | None = None

    def force_error(self, now: datetime, message: str) -> None:
        self.forced_error_at = now
        self.fault = {"code": 500, "message": message, "created": iso_z(now)}

    def status(self, now: datetime) -> str:
        if self.forced_error_at is not None:
            return "ERROR"
        if self.host is None:
            return "ERROR" if self.fail_at and now >= self.fail_at else "BUILD"
        return "ACTIVE" if self.ready_at and now >= self.ready_at else "BUILD"

    def record(self, now: datetime, links: Callable[[str, str], list[dict]], flavor: dict, neutron: Neutron) -> dict:
        status = self.status(now)
        changed = {"ERROR": self.forced_error_at or self.fail_at, "ACTIVE": self.ready_at}.get(status)
        host = self.host if status != "ERROR" or self.forced_error_at else None
        launched = iso_z(self.ready_at).replace("Z", ".000000") if status == "ACTIVE" and self.ready_at else None
        record = {
            "id": self.id, "name": self.name, "status": status, "tenant_id": self.project_id,
            "user_id": self.user_id, "metadata": dict(self.metadata),
            "hostId": hashlib.sha224((self.project_id + self.host).encode()).hexdigest() if host else "",
            "image": {"id": self.image_id, "links": links("images", self.image_id)[1:]},
            "flavor": {"vcpus": flavor["vcpus"], "ram": flavor["ram"], "disk": flavor["disk"],
                       "ephemeral": flavor["OS-FLV-EXT-DATA:ephemeral"], "swap": flavor["swap"],
                       "original_name": flavor["name"], "extra_specs": dict(flavor["extra_specs"])},
            "created": iso_z(self.created), "updated": iso_z(changed or self.created),
            "addresses": neutron.device_addresses(self.id), "accessIPv4": "", "accessIPv6": "",
            "links": links("servers", self.id), "OS-DCF:diskConfig": "MANUAL", "progress": 0,
            "OS-EXT-AZ:availability_zone": "nova", "pinned_availability_zone": None, "config_drive": "",
            "key_name": self.key_name, "OS-SRV-USG:launched_at": launched, "OS-SRV-USG:terminated_at": None,
            "OS-EXT-SRV-ATTR:host": f"nova-compute-ironic-{self.site_uid}" if host else None,
            "OS-EXT-SRV-ATTR:instance_name": self.instance_name,
            "OS-EXT-SRV-ATTR:hypervisor_hostname": host,
            "OS-EXT-SRV-ATTR:hostname": re.sub(r"[^a-z0-9-]+", "-", self.name.lower()).strip("-") or "server",
            "OS-EXT-SRV-ATTR:reservation_id": self.reservation_ref, "OS-EXT-SRV-ATTR:launch_index": 0,
            "OS-EXT-SRV-ATTR:kernel_id": "", "OS-EXT-SRV-ATTR:ramdisk_id": "",
            "OS-EXT-SRV-ATTR:root_device_name": "/dev/sda" if host else None, "OS-EXT-SRV-ATTR:user_data": None,
            "OS-EXT-STS:task_state": {"BUILD": "spawning" if host else "scheduling"}.get(status),
            "OS-EXT-STS:vm_state": {"BUILD": "building", "ACTIVE": "active"}.get(status, "error"),
            "OS-EXT-STS:power_state": 1 if status == "ACTIVE" else 0,
            "os-extended-volumes:volumes_attached": [], "locked": False, "locked_reason": None,
            "description": None, "tags": [], "trusted_image_certificates": None,
            "host_status": "UP" if host else "", "server_groups": [], "security_groups": [{"name": "default"}],
        }
        if status == "ERROR" and self.fault:
            record["fault"] = dict(self.fault)
        return record


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
        self.flavor = {"id": flavor_id, "name": "baremetal", "ram": 1024, "disk": 20, "vcpus": 1, "swap": 0,
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
        mine = {s.id: s for s in self.servers.values() if s.project_id == project}
        if rest in ([], ["detail"]) and req.method == "GET":
            found = [s for s in mine.values() if self._listed(s, req, now)]
            found.sort(key=lambda s: (s.created, s.id), reverse=True)
            if rest:
                return json_response(200, {"servers": [s.record(now, links, self.flavor, self.neutron) for s in found]})
            return json_response(200, {"servers": [{"id": s.id, "name": s.name, "links": links("servers", s.id)}
                                                   for s in found]})
        if rest == [] and req.method == "POST":
            server = self._create(req.body, user, project, now)
            return json_response(202, {"server": {"id": server.id, "links": links("servers", server.id),
                                                  "OS-DCF:diskConfig": "MANUAL",
                                                  "security_groups": [{"name": "default"}],
                                                  "adminPass": server.admin_pass}},
                                 Location=f"{base}/v2.1/servers/{server.id}")
        server = mine.get(rest[0])
        if server is None:
            raise NovaError(404, f"Instance {rest[0]} could not be found.")
        if rest[1:] == [] and req.method == "GET":
            return json_response(200, {"server": server.record(now, links, self.flavor, self.neutron)})
        if rest[1:] == [] and req.method == "DELETE":
            self._delete(server, release=True)
            return no_content()
        raise NovaError(404, "The resource could not be found.")

    def _listed(self, server: Server, req: Request, now: datetime) -> bool:
        if (req.arg("deleted") or "false").lower() == "true":
            return False  # deleted servers are not kept
        pattern = req.arg("name")
        if pattern:
            try:
                if not re.search(pattern, server.name):
                    return False
            except re.error:
                if pattern not in server.name:
                    return False
        status = req.arg("status")
        return not status or server.status(now) == status.upper()

    def _create(self, body: Any, user: str, project: str, now: datetime) -> Server:
        spec = body.get("server") if isinstance(body, dict) else None
        if not isinstance(spec, dict) or not spec.get("name"):
            raise NovaError(400, "Invalid input for field/attribute server. Value: None. 'name' is a required "
                                 "property")
        image_id = spec.get("imageRef") or next(
            (b.get("uuid") for b in spec.get("block_device_mapping_v2") or [] if b.get("source_type") == "image"), "")
        if not image_id or self.glance.images.get(image_id) is None:
            raise NovaError(400, f"Image {image_id} could not be found.")
        if spec.get("flavorRef") != self.flavor["id"]:
            raise NovaError(400, f"Flavor {spec.get('flavorRef')} could not be found.")
        requested = spec.get("networks", "auto")
        if requested in ("auto", None):
            network_ids = [self.neutron.sharednet["id"]]
        elif requested == "none":
            network_ids = []
        else:
            network_ids = [n.get("uuid") for n in requested if isinstance(n, dict)]
            for net_id in network_ids:
                if self.neutron.networks.get(net_id) is None:
                    raise NovaError(400, f"Network {net_id} could not be found.")
        key_name = spec.get("key_name")
        if key_name is not None and self.keypairs.get(user, key_name) is None:
            raise NovaError(400, "Invalid key_name provided.")
        hints = (body.get("OS-SCH-HNT:scheduler_hints") or body.get("os:scheduler_hints") or {})
        reservation = hints.get("reservation") if isinstance(hints, dict) else None
        if isinstance(reservation, list):
            reservation = reservation[0] if reservation else None
        host = self.blazar.claim_host(str(reservation)) if reservation and self.blazar else None
        self._instance_counter += 1
        server = Server(
            id=str(uuid.uuid4()), name=str(spec["name"]), project_id=project, user_id=user, image_id=image_id,
            key_name=key_name, created=now, host=host, reservation=reservation,
            ready_at=now + self.clock.scaled(SERVER_BOOT_SECONDS) if host else None,
            fail_at=None if host else now + self.clock.scaled(SERVER_SCHEDULE_SECONDS),
            instance_name=f"instance-{self._instance_counter:08x}", site_uid=self.uid,
            metadata=dict(spec.get("metadata") or {}),
            admin_pass="".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(12)),
            reservation_ref="r-" + hashlib.sha1(secrets.token_bytes(8)).hexdigest()[:8])
        if host is None:
            server.fault = {"code": 500, "message": NO_VALID_HOST, "created": iso_z(server.fail_at)}
        else:
            for net_id in network_ids:  # Ironic plugs the node's own NIC into the network
                self.neutron.create_port(net_id, server.id, project, self.mac_for(host))
        self.servers[server.id] = server
        return server

    def _delete(self, server: Server, release: bool) -> None:
        self.neutron.delete_ports(server.id)
        del self.servers[server.id]
        if release and server.host and self.blazar:
            self.blazar.release_host(server.host)
