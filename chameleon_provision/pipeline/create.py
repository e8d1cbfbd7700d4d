"""Creating a run's resources in order; each step first takes up what an earlier attempt of the run left.

A new run finds nothing and creates everything. `provision resume RUN` (and a re-run with the same
`--name`) goes through the same steps and finds the keypair, the live lease, the server and the address
where an interrupted or failed attempt left them, so nothing is created twice. A server that goes ERROR
on a still-valid lease is deleted and created again once on the same reservation: on bare metal a
second attempt usually works, and the lease (often the scarce part) is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chameleon_provision.cloud import network_manager, reservation_manager, server_launcher
from chameleon_provision.cloud.key_manager import KeyDecision, ensure_keypair
from chameleon_provision.cloud.operations import Cloud, FloatingIP, Lease, Server
from chameleon_provision.errors import ProvisioningFailed
from chameleon_provision.models import LeaseWindow
from chameleon_provision.pipeline.plan import Outcome
from chameleon_provision.pipeline.session import Session
from chameleon_provision.pipeline.teardown import remove
from chameleon_provision.setup.build import user_data_file
from chameleon_provision.state.recorder import Recorder
from chameleon_provision.state.store import ResourceRecord


@dataclass(frozen=True)
class CreateSpec:
    """What to create, from a fresh plan or from the plan document a run recorded."""

    run_id: str
    site: str
    name: str
    resource_properties: tuple[Any, ...]
    image_id: str
    lease: LeaseWindow
    reserve_address: bool
    key: KeyDecision
    user_data: str | None = None  # the setup script cloud-init runs at first boot (None: --no-setup)


def create(session: Session, spec: CreateSpec, outcome: Outcome) -> None:
    settings, progress = session.settings, session.streams.progress
    cloud = session.cloud(spec.site)
    recorder = Recorder(session.store, spec.run_id)
    earlier = _earlier(session, spec.run_id)

    key = ensure_keypair(cloud, spec.key, recorder, spec.site, settings.state_dir / "keys")
    outcome.keypair = key.keypair_name
    progress(f"keypair {key.keypair_name} ({spec.key.action})")

    lease = _lease(session, cloud, recorder, spec, earlier.get("lease"))
    outcome.lease_id = lease.id
    lease = reservation_manager.wait_active(cloud, lease, timeout=settings.lease_timeout,
                                            poll=settings.poll_seconds, progress=progress)
    outcome.reservation_id = lease.host_reservation_id

    server = _server(session, cloud, recorder, spec, lease, key.keypair_name, earlier.get("server"))
    outcome.server = {"id": server.id, "name": server.name, "status": server.status}

    fip = _address(session, cloud, recorder, spec, lease, earlier.get("floating_ip"))
    if not server.has_address(fip.address):
        network_manager.attach_address(cloud, server.id, fip)
    outcome.floating_ip = fip.address
    outcome.identity = str(key.private_path) if key.private_path else None
    identity = f"-i {key.private_path} " if key.private_path else ""
    outcome.ssh_command = f"ssh {identity}cc@{fip.address}"
    outcome.ssh_reachable = network_manager.wait_for_ssh(fip.address, settings.ssh_timeout, progress)


def _earlier(session: Session, run_id: str) -> dict[str, ResourceRecord]:
    """The newest live (or lease-held) resource of each kind an earlier attempt recorded."""
    out: dict[str, ResourceRecord] = {}
    for r in session.store.resources(run_id):
        if (r.live or r.status == "with_lease") and r.cloud_id:
            out[r.kind] = r
    return out


def _lease(session: Session, cloud: Cloud, recorder: Recorder, spec: CreateSpec,
           earlier: ResourceRecord | None) -> Lease:
    progress = session.streams.progress
    if earlier is not None and earlier.cloud_id:
        listed = {str(x.get("id")): str(x.get("status", "")) for x in cloud.leases()}  # a failed read raises
        status = listed.get(earlier.cloud_id)
        if status is not None and status not in reservation_manager.LEASE_DEAD:
            lease = cloud.lease_show(earlier.cloud_id)
            progress(f"lease {lease.name}: taking up the earlier attempt's lease ({lease.status})")
            return lease
        session.store.mark(earlier.id, "ended")  # gone or over: a new lease of the same shape follows
    network = cloud.network_id(session.settings.public_network) if spec.reserve_address else None
    return reservation_manager.create_lease(cloud, recorder, name=f"{spec.name}-lease", site=spec.site,
                                            resource_properties=list(spec.resource_properties), lease=spec.lease,
                                            address_network_id=network, progress=progress)


def _server(session: Session, cloud: Cloud, recorder: Recorder, spec: CreateSpec, lease: Lease, key_name: str,
            earlier: ResourceRecord | None) -> Server:
    settings, progress = session.settings, session.streams.progress
    server = None
    if earlier is not None and earlier.cloud_id:
        found = {s.id: s for s in cloud.servers()}.get(earlier.cloud_id)
        if found is None:
            session.store.mark(earlier.id, "deleted")
        else:
            progress(f"server {found.name}: taking up the earlier attempt's server ({found.status})")
            server = found
    for attempt in (1, 2):
        if server is None:
            with user_data_file(spec.user_data) as user_data:
                server = server_launcher.launch(cloud, recorder, name=spec.name, site=spec.site,
                                                image_id=spec.image_id, key_name=key_name, network=settings.network,
                                                reservation_id=lease.host_reservation_id or "", user_data=user_data)
        try:
            return server_launcher.wait_active(cloud, server, timeout=settings.server_timeout,
                                               poll=settings.poll_seconds, progress=progress)
        except ProvisioningFailed as exc:
            if attempt == 2 or "went ERROR" not in exc.message:
                raise
            progress(f"{exc.message}; deleting it and trying once more on the same reservation")
            rows = [r for r in session.store.live_resources(spec.run_id) if r.kind == "server"]
            for row in rows:
                _, problem = remove(cloud, row, wait=settings.server_timeout, poll=settings.poll_seconds)
                if problem:
                    raise ProvisioningFailed(f"{exc.message}; the failed server could not be removed: "
                                             f"{problem}") from exc
                session.store.mark(row.id, "deleted")
            server = None
    raise AssertionError("unreachable")


def _address(session: Session, cloud: Cloud, recorder: Recorder, spec: CreateSpec, lease: Lease,
             earlier: ResourceRecord | None) -> FloatingIP:
    settings = session.settings
    if earlier is not None and earlier.cloud_id:
        found = {f.id: f for f in cloud.floating_ips()}.get(earlier.cloud_id)
        if found is not None:
            return found
        session.store.mark(earlier.id, "deleted")
    if lease.address_reservation_id:
        return network_manager.reserved_address(cloud, recorder, spec.site, lease.address_reservation_id,
                                                poll=min(settings.poll_seconds, 2.0))
    return network_manager.acquire_address(cloud, recorder, session.store, spec.site, settings.public_network)
