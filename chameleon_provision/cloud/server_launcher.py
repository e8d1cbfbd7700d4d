"""The bare-metal server on the reservation: create, then wait out the 10-30 minute deploy."""

from __future__ import annotations

from collections.abc import Callable

from chameleon_provision.cloud.operations import Cloud, Server
from chameleon_provision.cloud.polling import wait_for_status
from chameleon_provision.errors import ProvisioningFailed
from chameleon_provision.state.recorder import Recorder

FLAVOR = "baremetal"


def launch(cloud: Cloud, recorder: Recorder, *, name: str, site: str, image_id: str, key_name: str,
           network: str, reservation_id: str, user_data: str | None = None) -> Server:
    with recorder.creating("server", name, site, {"reservation_id": reservation_id}) as confirm:
        server = cloud.server_create(name=name, image=image_id, key_name=key_name, network=network,
                                     reservation_id=reservation_id, flavor=FLAVOR, user_data=user_data)
        confirm(server.id)
    return server


def wait_active(cloud: Cloud, server: Server, *, timeout: float, poll: float,
                progress: Callable[[str], None]) -> Server:
    """Poll our own way: `server create --wait` has no timeout and can corrupt -f json output."""
    def failed(current: Server) -> ProvisioningFailed:
        return ProvisioningFailed(f"server {current.name} went ERROR: {current.fault or 'no fault given'}",
                                  hint="check the lease is ACTIVE and the hint is the reservation id")

    return wait_for_status(lambda: cloud.server_show(server.id), label=f"server {server.name}", ready="ACTIVE",
                           failed=("ERROR",), timeout=timeout, poll=poll, progress=progress,
                           note="; bare metal takes 10-30 min", on_failed=failed)
