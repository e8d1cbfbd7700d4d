"""Nova server records for one twin site: state from the clock, the 2.96 record, and server create.

A server's status is worked out whenever it is read, so nothing runs in the background: BUILD
until the bare-metal deploy time has passed, then ACTIVE; or ERROR (no valid host) shortly after
creation when Blazar had no host. `nova.Nova` owns the servers and routes requests here.
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

from chameleon_twin.clock import SERVER_BOOT_SECONDS, SERVER_SCHEDULE_SECONDS, Clock, iso_z
from chameleon_twin.glance import Glance
from chameleon_twin.http import Request
from chameleon_twin.neutron import Neutron
from chameleon_twin.nova_errors import NovaError
from chameleon_twin.nova_keypairs import Keypairs

NO_VALID_HOST = "No valid host was found. There are not enough hosts available."


class HostClaims(Protocol):
    def claim_host(self, reservation_id: str) -> str | None: ...
    def release_host(self, hypervisor_hostname: str) -> None: ...


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
    user_data: str | None = None  # base64 as sent; kept and shown, never run

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
            "hostId": hashlib.sha224((self.project_id + host).encode()).hexdigest() if host else "",
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
            "OS-EXT-SRV-ATTR:root_device_name": "/dev/sda" if host else None,
            "OS-EXT-SRV-ATTR:user_data": self.user_data,
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


def listed(server: Server, req: Request, now: datetime) -> bool:
    """Whether a server passes the list filters (`deleted`, `name` regex, `status`)."""
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


@dataclass(frozen=True)
class Launch:
    """A validated server-create request, before Blazar is asked for a host."""
    name: str
    image_id: str
    network_ids: list[str]
    key_name: str | None
    reservation: Any  # the scheduler hint as sent; Blazar is asked with its str()
    metadata: Any  # as sent; build_server copies it into the server's own dict
    user_data: str | None = None


def parse_launch(body: Any, user: str, glance: Glance, neutron: Neutron, keypairs: Keypairs, flavor_id: str) -> Launch:
    """Check a POST /servers body in Nova's order, raising the first error the real API would."""
    spec = body.get("server") if isinstance(body, dict) else None
    if not isinstance(spec, dict) or not spec.get("name"):
        raise NovaError(400, "Invalid input for field/attribute server. Value: None. 'name' is a required "
                             "property")
    user_data = _user_data(spec)
    image_id = spec.get("imageRef") or next(
        (b.get("uuid") for b in spec.get("block_device_mapping_v2") or [] if b.get("source_type") == "image"), "")
    if not image_id or glance.images.get(image_id) is None:
        raise NovaError(400, f"Image {image_id} could not be found.")
    if spec.get("flavorRef") != flavor_id:
        raise NovaError(400, f"Flavor {spec.get('flavorRef')} could not be found.")
    requested = spec.get("networks", "auto")
    if requested in ("auto", None):
        network_ids = [neutron.sharednet["id"]]
    elif requested == "none":
        network_ids = []
    else:
        network_ids = [n.get("uuid") for n in requested if isinstance(n, dict)]
        for net_id in network_ids:
            if neutron.networks.get(net_id) is None:
                raise NovaError(400, f"Network {net_id} could not be found.")
    key_name = spec.get("key_name")
    if key_name is not None and keypairs.get(user, key_name) is None:
        raise NovaError(400, "Invalid key_name provided.")
    hints = (body.get("OS-SCH-HNT:scheduler_hints") or body.get("os:scheduler_hints") or {})
    reservation = hints.get("reservation") if isinstance(hints, dict) else None
    if isinstance(reservation, list):
        reservation = reservation[0] if reservation else None
    return Launch(name=str(spec["name"]), image_id=image_id, network_ids=network_ids, key_name=key_name,
                  reservation=reservation, metadata=spec.get("metadata"), user_data=user_data)


# Nova's server-create schema: `user_data` is {"type": "string", "format": "base64", "maxLength": 65535}, and a
# schema failure reads "Invalid input for field/attribute user_data. Value: <value>. <jsonschema's message>".
USER_DATA_MAX = 65535


def _user_data(spec: dict) -> str | None:
    if "user_data" not in spec:
        return None
    value = spec["user_data"]

    def invalid(message: str) -> NovaError:
        return NovaError(400, f"Invalid input for field/attribute user_data. Value: {value}. {message}")

    if not isinstance(value, str):
        raise invalid(f"{value!r} is not of type 'string'")
    try:
        base64.decodebytes(value.encode())  # Nova's format check: as lenient as decodebytes, no stricter
    except binascii.Error:
        raise invalid(f"{value!r} is not a 'base64'") from None
    if len(value) > USER_DATA_MAX:
        raise invalid(f"{value!r} is too long")
    return value


def build_server(launch: Launch, *, user: str, project: str, now: datetime, host: str | None, clock: Clock,
                 instance_name: str, site_uid: str) -> Server:
    """The new server: deploying on `host`, or bound for ERROR (no valid host) when there is none."""
    fail_at = None if host else now + clock.scaled(SERVER_SCHEDULE_SECONDS)
    server = Server(
        id=str(uuid.uuid4()), name=launch.name, project_id=project, user_id=user, image_id=launch.image_id,
        key_name=launch.key_name, created=now, host=host, reservation=launch.reservation,
        ready_at=now + clock.scaled(SERVER_BOOT_SECONDS) if host else None,
        fail_at=fail_at,
        instance_name=instance_name, site_uid=site_uid,
        metadata=dict(launch.metadata or {}), user_data=launch.user_data,
        admin_pass="".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(12)),
        reservation_ref="r-" + hashlib.sha1(secrets.token_bytes(8)).hexdigest()[:8])
    if fail_at is not None:
        server.fault = {"code": 500, "message": NO_VALID_HOST, "created": iso_z(fail_at)}
    return server
