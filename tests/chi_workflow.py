"""python-chi's documented bare-metal workflow at one site, as a script (run by test_python_chi.py).

It follows Chameleon's python-chi tutorial: project name, hardware, images, a lease with a node and a
reserved floating IP, a server on it, the address attached, availability, teardown. Everything
python-chi needs comes from the environment the test builds from the twin's openrc (OS_* and
CHI_RESOURCE_API_URL), which python-chi reads when it is imported.

    python chi_workflow.py SITE NODE_TYPE IMAGE PUBLIC_KEY_FILE [--by-name]

Prints one JSON document with what each step saw.

python-chi's availability helpers call `host.list_allocations()` / `host.get_allocation()`, which
only Chameleon's fork of python-blazarclient has; the upstream client installed here lacks them.
`add_fork_allocation_calls` adds the two calls the way the fork defines them (the same Blazar
routes, GET /os-hosts/allocations and GET /os-hosts/{id}/allocation), so python-chi's own code runs.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any


def add_fork_allocation_calls() -> None:
    from blazarclient.v1.hosts import ComputeHostClientManager

    def list_allocations(self: Any, sort_by: str | None = None) -> Any:
        _, body = self.request_manager.get("/os-hosts/allocations")
        return body["allocations"]

    def get_allocation(self: Any, host_id: str) -> Any:
        _, body = self.request_manager.get(f"/os-hosts/{host_id}/allocation")
        return body["allocation"]

    if not hasattr(ComputeHostClientManager, "list_allocations"):
        ComputeHostClientManager.list_allocations = list_allocations  # type: ignore[attr-defined]
        ComputeHostClientManager.get_allocation = get_allocation  # type: ignore[attr-defined]


def main(site: str, node_type: str, image_name: str, public_key_file: str, by_name: bool) -> dict[str, Any]:
    from chi import context, hardware, image, lease, network, server

    add_fork_allocation_calls()
    seen: dict[str, Any] = {"site": site}
    seen["region"] = context.get("region_name")
    seen["project"] = context.get_project_name()
    seen["sites"] = sorted(context.list_sites())

    nodes = hardware.get_nodes(node_type=node_type)
    seen["nodes"] = len(nodes)
    seen["node_types"] = sorted(hardware.get_node_types())
    seen["reservable"] = all(n.reservable for n in nodes)
    images = [i.name for i in image.list_images(is_chameleon_supported=True)]
    seen["images"] = sorted(images)

    stamp = datetime.now(UTC).strftime("%H%M%S%f")
    my_lease = lease.Lease(f"chi-{site.split('@')[1].lower()}-{stamp}", duration=timedelta(hours=3))
    if by_name:  # a specific node, as python-chi's node picker does: ["==", "$node_name", name]
        node = next(n for n in hardware.get_nodes(node_type=node_type, filter_reserved=True)
                    if n.gpu and n.gpu.get("gpu"))
        my_lease.add_node_reservation(nodes=[node])
        seen["node_name"] = node.name
    else:
        my_lease.add_node_reservation(amount=1, node_type=node_type)
    my_lease.add_fip_reservation(amount=1)
    my_lease.submit(wait_for_active=True, wait_timeout=120)
    seen["lease_status"] = my_lease.status
    seen["resource_properties"] = json.loads(my_lease.node_reservations[0]["resource_properties"])
    reserved_ips = my_lease.get_reserved_floating_ips()
    seen["reserved_ips"] = reserved_ips

    key_name = f"chi-key-{stamp}"
    with open(public_key_file) as handle:
        server.update_keypair(key_name, handle.read().strip())
    my_server = server.Server(f"chi-server-{stamp}", reservation_id=my_lease.node_reservations[0]["id"],
                              image_name=image_name, key_name=key_name)
    my_server.submit(wait_for_active=True, show="text", wait_timeout=120)
    seen["server_status"] = my_server.status
    my_server.associate_floating_ip(reserved_ips[0])
    seen["server_ips"] = my_server.get_all_floating_ips()
    seen["hypervisor_hostname"] = my_server.hypervisor_hostname

    held = next(n for n in hardware.get_nodes(node_type=node_type) if n.uid == my_server.hypervisor_hostname)
    free_from, free_until = held.next_free_timeslot(minimum_hours=1)
    seen["free_from"], seen["free_until"] = free_from.strftime("%Y-%m-%d %H:%M"), free_until
    seen["lease_end"] = my_lease.end_date.strftime("%Y-%m-%d %H:%M")
    seen["still_free"] = sorted(n.name for n in hardware.get_nodes(node_type=node_type, filter_reserved=True))
    seen["held_node"] = held.name

    my_server.delete()
    my_lease.delete()
    seen["lease_after_delete"] = my_lease.status
    seen["leases_left"] = [x.name for x in lease.list_leases()]
    seen["floating_ips_left"] = [f["floating_ip_address"] for f in network.list_floating_ips()]
    server.nova().keypairs.delete(key_name)
    return seen


if __name__ == "__main__":
    chatter = io.StringIO()  # python-chi prints progress; keep stdout for the result
    with contextlib.redirect_stdout(chatter):
        result = main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], "--by-name" in sys.argv[5:])
    sys.stderr.write(chatter.getvalue())
    print(json.dumps(result, default=str))
