"""Network and public address: sharednet1, one floating IP, and exactly that IP on the server."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from chameleon_provision.cloud.operations import Cloud, FloatingIP
from chameleon_provision.errors import OpenStackError, ProvisioningFailed
from chameleon_provision.state.recorder import Recorder
from chameleon_provision.state.store import StateStore, claim_leftover_address

log = logging.getLogger(__name__)
MARK = "chameleon-provision"  # description prefix of every address this tool creates


def description(run_id: str) -> str:
    return f"{MARK} run {run_id}"


@dataclass(frozen=True)
class AddressPlan:
    action: str  # reserve (in the lease) | reuse | create
    address: str | None
    reason: str


def plan_reserved_address() -> AddressPlan:
    """Chameleon's advice: reserve the address in the lease (its own pool, guaranteed for the lease)."""
    return AddressPlan("reserve", None, "a floating IP reserved in the lease; an ad hoc one if Blazar refuses")


def reusable_address(cloud: Cloud, store: StateStore, run_id: str) -> FloatingIP | None:
    """An unattached address an earlier, finished run of this state directory left behind, claimed for `run_id`.

    Only addresses recorded here qualify (never a collaborator's or another machine's, whatever their
    description), and the claim is atomic in the state database, so two runs never share one.
    """
    free = {f.id: f for f in cloud.floating_ips() if f.port_id in (None, "") and f.description.startswith(MARK)}
    claimed = claim_leftover_address(store, free, run_id)
    return free[claimed] if claimed else None


def reserved_address(cloud: Cloud, recorder: Recorder, site: str, reservation_id: str, *, timeout: float = 60.0,
                     poll: float = 2.0) -> FloatingIP:
    """The address Blazar made for the lease's virtual:floatingip reservation (tagged with its id).

    It belongs to the lease: Blazar deletes it when the lease ends, so the run records it without
    ever deleting it itself.
    """
    deadline = time.monotonic() + timeout
    while True:
        found = cloud.reserved_floating_ips(reservation_id)
        if found:
            fip = found[0]
            recorder.note("floating_ip", fip.description or f"reservation:{reservation_id}", site, fip.id,
                          "with_lease", address=fip.address, reservation_id=reservation_id)
            return fip
        if time.monotonic() > deadline:
            raise ProvisioningFailed(f"the lease's reserved floating IP (reservation {reservation_id}) did not appear "
                                     f"within {timeout:.0f} s")
        time.sleep(poll)


def acquire_address(cloud: Cloud, recorder: Recorder, store: StateStore, site: str, public_network: str
                    ) -> FloatingIP:
    fip = reusable_address(cloud, store, recorder.run_id)
    if fip is not None:
        recorder.note("floating_ip", fip.description, site, fip.id, "created", address=fip.address, reused=True)
        return fip
    name = description(recorder.run_id)
    try:  # outside `creating`, so the recorder sees the CLI's error and marks the row failed
        with recorder.creating("floating_ip", name, site) as confirm:
            fip = cloud.floating_ip_create(public_network, name)
            confirm(fip.id, address=fip.address)
    except OpenStackError as exc:
        if "No more IP addresses" in exc.message or "Quota exceeded" in exc.message:
            raise ProvisioningFailed(f"no floating IP available at {site}: {exc.message}",
                                     hint="release unused addresses with `openstack floating ip delete`") from exc
        raise
    return fip


def attach_address(cloud: Cloud, server_id: str, fip: FloatingIP) -> None:
    """Attach exactly this address (never an arbitrary free one) and check the server shows it."""
    cloud.server_add_floating_ip(server_id, fip.address)
    server = cloud.server_show(server_id)
    if not server.has_address(fip.address):
        raise ProvisioningFailed(f"{fip.address} was attached but server {server_id} does not show it")


def wait_for_ssh(address: str, timeout: float, progress: Callable[[str], None], *, port: int = 22,
                 interval: float = 5.0) -> bool | None:
    """TCP-poll port 22; bare metal is ACTIVE a few minutes before sshd answers. None: not checked."""
    if timeout <= 0:
        return None
    deadline = time.monotonic() + timeout
    progress(f"waiting for SSH on {address}:{port} (up to {timeout:.0f} s)")
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, port), timeout=min(5.0, interval)):
                return True
        except OSError:
            time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
    return False
