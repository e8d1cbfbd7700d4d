"""Recording what a run creates, and removing it again (failure cleanup, Ctrl+C, `destroy`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .cloud import Cloud
from .errors import OpenStackError
from .state import ResourceRecord, StateStore

log = logging.getLogger(__name__)


class Recorder:
    """Writes a row before each create and confirms it with the cloud id after."""

    def __init__(self, store: StateStore, run_id: str) -> None:
        self.store = store
        self.run_id = run_id

    @contextmanager
    def creating(self, kind: str, name: str, site: str, detail: dict[str, Any] | None = None
                 ) -> Iterator[Callable[..., None]]:
        row = self.store.intend(self.run_id, kind, name, site, detail)

        def confirm(cloud_id: str, status: str = "created", **more: Any) -> None:
            self.store.mark(row, status, cloud_id=cloud_id, detail=more or None)

        try:
            yield confirm
        except OpenStackError as exc:
            # The CLI answered with an error, so nothing was made; a timeout or a crash leaves the
            # row in 'creating' so teardown still looks for the resource by its unique name.
            if exc.returncode is not None:
                self.store.mark(row, "failed", detail={"error": exc.message})
            raise

    def note(self, kind: str, name: str, site: str, cloud_id: str, status: str, **detail: Any) -> None:
        """Record a resource the run uses but did not create (reused keypair or address)."""
        row = self.store.intend(self.run_id, kind, name, site, detail)
        self.store.mark(row, status, cloud_id=cloud_id)


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
