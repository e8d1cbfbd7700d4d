"""Removing what a run created again (failure cleanup, Ctrl+C, `destroy`), in an order that strands nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from chameleon_provision.cloud.operations import Cloud
from chameleon_provision.errors import OpenStackError
from chameleon_provision.state.store import ResourceRecord, StateStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TeardownResult:
    removed: tuple[str, ...]
    left: tuple[str, ...]  # "kind name: why" for anything that could not be removed


def manual_command(r: ResourceRecord) -> str:
    ref = r.cloud_id or r.name
    return {
        "server": f"openstack server delete {ref}",
        "floating_ip": f"openstack floating ip delete {ref}",
        "lease": f"openstack reservation lease delete {ref}",
        "keypair": f"openstack keypair delete {ref}",
    }.get(r.kind, f"# {r.kind} {ref}")


def _gone(exc: OpenStackError) -> bool:
    text = (exc.stderr or exc.message).lower()
    return any(s in text for s in ("no server found", "not found", "unable to find", "no floatingip found", "404"))


def _delete(cloud: Cloud, r: ResourceRecord) -> None:
    if r.kind == "server":
        cloud.server_delete(r.cloud_id or r.name)
    elif r.kind == "floating_ip":
        ref = r.cloud_id or r.detail.get("address")
        if ref is None:  # create was interrupted before an id came back: find it by our description
            ref = next((f.id for f in cloud.floating_ips() if f.description == r.name), None)
        if ref:
            cloud.floating_ip_delete(ref)
    elif r.kind == "lease":
        cloud.lease_delete(r.cloud_id or r.name)


def teardown(store: StateStore, run_id: str, cloud_for: Callable[[str], Cloud],
             progress: Callable[[str], None] = lambda _m: None) -> TeardownResult:
    """Delete every live resource of a run (servers, addresses, leases); keypairs are kept on purpose."""
    removed: list[str] = []
    left: list[str] = []
    for r in store.live_resources(run_id):
        if r.kind == "keypair":
            continue
        label = f"{r.kind} {r.cloud_id or r.name}"
        try:
            _delete(cloud_for(r.site), r)
        except OpenStackError as exc:
            if not _gone(exc):
                log.warning("could not delete %s: %s", label, exc.message)
                left.append(f"{label}: {exc.message}")
                continue
        store.mark(r.id, "deleted")
        removed.append(label)
        progress(f"removed {label}")
    return TeardownResult(tuple(removed), tuple(left))
