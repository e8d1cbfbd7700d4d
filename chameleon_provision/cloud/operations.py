"""Typed OpenStack operations over the runner: the CLI's JSON becomes frozen records here."""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from chameleon_provision.cloud.openstack_cli import OpenStackRunner, decode_listish, is_read_only
from chameleon_provision.cloud.retry import explain, is_transient, retry_read
from chameleon_provision.errors import OpenStackError
from chameleon_provision.models import ImageRecord


@dataclass(frozen=True)
class Keypair:
    name: str
    fingerprint: str


@dataclass(frozen=True)
class FloatingIP:
    id: str
    address: str
    port_id: str | None
    fixed_address: str | None = None
    description: str = ""


@dataclass(frozen=True)
class Reservation:
    id: str
    resource_type: str
    status: str


@dataclass(frozen=True)
class Lease:
    id: str
    name: str
    status: str
    start_date: str
    end_date: str
    reservations: tuple[Reservation, ...]

    @property
    def host_reservation_id(self) -> str | None:
        """The physical:host reservation's id: the Nova hint needs this, not the lease id."""
        return next((r.id for r in self.reservations if r.resource_type == "physical:host"), None)

    @property
    def address_reservation_id(self) -> str | None:
        """The virtual:floatingip reservation's id: Neutron tags the reserved address `reservation:<id>`."""
        return next((r.id for r in self.reservations if r.resource_type == "virtual:floatingip"), None)


@dataclass(frozen=True)
class Server:
    id: str
    name: str
    status: str
    addresses: Mapping[str, tuple[str, ...]]
    fault: str = ""

    def has_address(self, address: str) -> bool:
        return any(address in ips for ips in self.addresses.values())


def _lease(data: Mapping[str, Any]) -> Lease:
    reservations = tuple(
        Reservation(id=str(r.get("id", "")), resource_type=str(r.get("resource_type", "")),
                    status=str(r.get("status", "")))
        for r in decode_listish(data.get("reservations"))
    )
    return Lease(id=str(data["id"]), name=str(data.get("name", "")), status=str(data.get("status", "")),
                 start_date=str(data.get("start_date", "")), end_date=str(data.get("end_date", "")),
                 reservations=reservations)


def _addresses(value: Any) -> dict[str, tuple[str, ...]]:
    # OSC prints {"sharednet1": ["10.0.0.5", "192.5.87.10"]}; older versions print "net=ip, ip".
    if isinstance(value, Mapping):
        return {k: tuple(v if isinstance(v, list) else [v]) for k, v in value.items()}
    out: dict[str, tuple[str, ...]] = {}
    for part in str(value or "").split(";"):
        if "=" in part:
            net, ips = part.split("=", 1)
            out[net.strip()] = tuple(ip.strip() for ip in ips.split(","))
    return out


def _server(data: Mapping[str, Any]) -> Server:
    fault = data.get("fault")
    if isinstance(fault, str) and fault.startswith("{"):
        fault = json.loads(fault)
    message = fault.get("message", "") if isinstance(fault, Mapping) else str(fault or "")
    return Server(id=str(data["id"]), name=str(data.get("name", "")), status=str(data.get("status", "")),
                  addresses=_addresses(data.get("addresses")), fault=message)


def _fip(data: Mapping[str, Any]) -> FloatingIP:
    def get(*keys: str) -> Any:
        return next((data[k] for k in keys if data.get(k) not in (None, "")), None)

    return FloatingIP(id=str(get("id", "ID")), address=str(get("floating_ip_address", "Floating IP Address")),
                      port_id=get("port_id", "Port"), fixed_address=get("fixed_ip_address", "Fixed IP Address"),
                      description=str(get("description", "Description") or ""))


T = TypeVar("T")


Submit = Callable[[Callable[[], Any]], "Future[Any]"]
# What the plan reads at its first site whatever it decides; floating IPs are not among them (the
# address comes with the lease, and a later list must see the cloud as it is then).
READ_AHEAD = ("hosts", "allocations", "keypairs")
READ_AHEAD_TTL = 120.0  # seconds an early read stays good for


class Cloud:
    """The OpenStack operations the pipeline needs, one method per CLI command."""

    def __init__(self, runner: OpenStackRunner) -> None:
        self.runner = runner
        self._ahead: dict[str, tuple[float, Future[Any]]] = {}
        self._ahead_lock = threading.Lock()

    def run(self, *args: str, output: str = "json") -> Any:
        """One command; a read is retried through passing failures (cloud.retry), a change is not."""
        if is_read_only(args):
            return retry_read(lambda: self.runner.run(list(args), output=output))
        with self._ahead_lock:  # a change makes every early read stale
            self._ahead.clear()
        try:
            return self.runner.run(list(args), output=output)
        except OpenStackError as exc:
            raise explain(exc) from None

    def read_ahead(self, submit: Submit, names: Sequence[str] = READ_AHEAD) -> None:
        """Start these reads in the background; each one's next call takes that result, later calls read anew.

        The plan needs them all, none depends on another, and the site's session runs them while the
        repository is read and the decisions are made. An early read not taken within READ_AHEAD_TTL,
        or before this Cloud's next create or delete, is dropped, so nothing ever acts on a stale list.
        """
        for name in names:
            with self._ahead_lock:
                if name not in self._ahead:
                    read = functools.partial(getattr(self, name), fresh=True)
                    self._ahead[name] = (time.monotonic(), submit(read))

    def _early(self, name: str) -> Future[Any] | None:
        with self._ahead_lock:
            started, future = self._ahead.pop(name, (0.0, None))
        return future if future is not None and time.monotonic() - started < READ_AHEAD_TTL else None

    def _create(self, make: Callable[[], T], find: Callable[[], T | None], attempts: int = 3) -> T:
        """A create that failed in passing is tried again only once its unique name shows it did not happen."""
        for attempt in range(1, attempts + 1):
            try:
                return make()
            except OpenStackError as exc:
                if not is_transient(exc) or attempt == attempts:
                    raise
                found = find()
                if found is not None:  # the first attempt took effect after all
                    return found
                time.sleep(2.0 * attempt)
        raise AssertionError("unreachable")

    # identity
    def token_issue(self) -> Mapping[str, Any]:
        """Authenticate; the token itself is left out of the output, so it never reaches a pipe or a log."""
        return self.run("token", "issue", "-c", "expires", "-c", "project_id", "-c", "user_id")

    # images and flavors
    def images(self) -> list[ImageRecord]:
        """Active images; `image list` prints no properties, so decisions.image_rules reads their names."""
        rows = self.run("image", "list", "--status", "active") or []
        return [ImageRecord(id=str(r["ID"]), name=str(r["Name"]), status=str(r.get("Status", "active")))
                for r in rows]

    def image_properties(self, image_id: str) -> Mapping[str, Any]:
        data = self.run("image", "show", image_id)
        props = data.get("properties") or {}
        return props if isinstance(props, Mapping) else {}

    # keypairs
    def keypairs(self, *, fresh: bool = False) -> list[Keypair]:
        if not fresh and (early := self._early("keypairs")):
            return list(early.result())
        return [Keypair(r["Name"], r.get("Fingerprint", "")) for r in self.run("keypair", "list") or []]

    def keypair_create(self, name: str, public_key_file: str) -> Keypair:
        def make() -> Keypair:
            data = self.run("keypair", "create", "--public-key", public_key_file, name)
            return Keypair(data["name"], data.get("fingerprint", ""))
        return self._create(make, lambda: next((k for k in self.keypairs() if k.name == name), None))

    def keypair_delete(self, name: str) -> None:
        self.run("keypair", "delete", name, output="none")

    # networks and floating IPs
    def floating_ips(self, *, fresh: bool = False) -> list[FloatingIP]:
        if not fresh and (early := self._early("floating_ips")):
            return list(early.result())
        return [_fip(r) for r in self.run("floating", "ip", "list", "--long") or []]

    def reserved_floating_ips(self, reservation_id: str) -> list[FloatingIP]:
        return [_fip(r) for r in self.run("floating", "ip", "list", "--long", "--tags",
                                          f"reservation:{reservation_id}") or []]

    def network_id(self, name: str) -> str:
        return str(self.run("network", "show", name)["id"])

    def floating_ip_create(self, network: str, description: str) -> FloatingIP:
        return self._create(
            lambda: _fip(self.run("floating", "ip", "create", "--description", description, network)),
            lambda: next((f for f in self.floating_ips() if f.description == description), None))

    def floating_ip_delete(self, address_or_id: str) -> None:
        self.run("floating", "ip", "delete", address_or_id, output="none")

    # servers
    def server_create(self, *, name: str, image: str, key_name: str, network: str, reservation_id: str,
                      flavor: str = "baremetal", user_data: str | None = None) -> Server:
        """`user_data`: a file the CLI reads and sends base64-encoded (cloud-init runs it at first boot)."""
        extra = ("--user-data", user_data) if user_data else ()
        return self._create(
            lambda: _server(self.run("server", "create", "--flavor", flavor, "--image", image, "--key-name", key_name,
                                     "--network", network, "--hint", f"reservation={reservation_id}", *extra, name)),
            lambda: next((s for s in self.servers() if s.name == name), None))

    def servers(self) -> list[Server]:
        return [Server(id=str(r["ID"]), name=str(r.get("Name", "")), status=str(r.get("Status", "")),
                       addresses=_addresses(r.get("Networks"))) for r in self.run("server", "list") or []]

    def server_show(self, server_id: str) -> Server:
        return _server(self.run("server", "show", server_id))

    def server_delete(self, server_id: str) -> None:
        self.run("server", "delete", server_id, output="none")

    def server_add_floating_ip(self, server_id: str, address: str) -> None:
        """Attach; after a passing failure, attach again unless the server already shows the address."""
        def make() -> bool:
            self.run("server", "add", "floating", "ip", server_id, address, output="none")
            return True
        self._create(make, lambda: True if self.server_show(server_id).has_address(address) else None)

    # Blazar
    def hosts(self, *, fresh: bool = False) -> list[Mapping[str, Any]]:
        if not fresh and (early := self._early("hosts")):
            return list(early.result())
        # The default columns omit reservable/disabled. Only keys every host carries: the CLI takes its
        # columns from the first host and fails with KeyError on a later one that lacks one (doni-enrolled
        # hosts have no `uid`); the hypervisor_hostname is the node's uid anyway.
        columns = ("id", "hypervisor_hostname", "node_name", "node_type", "su_factor", "reservable", "disabled")
        return list(self.run("reservation", "host", "list", *(a for c in columns for a in ("-c", c))) or [])

    def allocations(self, *, fresh: bool = False) -> list[Mapping[str, Any]]:
        if not fresh and (early := self._early("allocations")):
            return list(early.result())
        return list(self.run("reservation", "allocation", "list", "host") or [])

    def lease_create(self, *, name: str, resource_properties: Sequence[Any], start: str, end: str,
                     address_network_id: str | None = None) -> Lease:
        """One host, and with `address_network_id` one floating IP reserved from that network's pool."""
        props = json.dumps(list(resource_properties), separators=(",", ":"))
        args = ["reservation", "lease", "create", "--reservation",
                f"min=1,max=1,resource_type=physical:host,resource_properties={props}", "--end-date", end]
        if address_network_id:
            args += ["--reservation", f"resource_type=virtual:floatingip,network_id={address_network_id},amount=1"]
        if start != "now":
            args += ["--start-date", start]
        def find() -> Lease | None:
            found = next((x for x in self.leases() if x.get("name") == name), None)
            return self.lease_show(str(found["id"])) if found else None

        data = self._create(lambda: self.run(*args, name, output="lease"), find)
        if isinstance(data, Lease):
            return data
        if not isinstance(data, Mapping) or "id" not in data:
            raise OpenStackError("`openstack reservation lease create` returned no lease id")
        return _lease(data)

    def lease_show(self, lease_id: str) -> Lease:
        return _lease(self.run("reservation", "lease", "show", lease_id))

    def lease_delete(self, lease_id: str) -> None:
        self.run("reservation", "lease", "delete", lease_id, output="none")

    def leases(self) -> list[Mapping[str, Any]]:
        return list(self.run("reservation", "lease", "list", "-c", "id", "-c", "name", "-c", "status") or [])
