"""Removing what a run created again (failure cleanup, Ctrl+C, `destroy`), in an order that strands nothing."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chameleon_provision.cloud.operations import Cloud
from chameleon_provision.errors import Interrupted, OpenStackError
from chameleon_provision.state.store import ResourceRecord, StateStore

if TYPE_CHECKING:  # the session imports the cloud adapters; teardown only needs its type
    from chameleon_provision.pipeline.session import Session

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


@contextmanager
def cleanup_on_failure(session: Session, run_id: str, keep: bool, report: dict[str, Any]) -> Iterator[None]:
    """Any failure, Ctrl+C or SIGTERM inside removes what the run created (unless `keep`).

    `report` receives `removed` and `left`, for the error's `--json` document.
    """
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    except (Exception, KeyboardInterrupt) as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)
        session.store.update_run(run_id, status="interrupted" if interrupted else "failed")
        result = _clean(session, run_id, keep)
        report["removed"] = list(result.removed) if result else []
        report["left"] = [f"{r.kind} {r.cloud_id or r.name}" for r in session.store.live_resources(run_id)
                          if r.kind != "keypair"]
        if interrupted:
            raise Interrupted("interrupted; " + _leftovers(session, run_id)) from None
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)


def _clean(session: Session, run_id: str, keep: bool) -> TeardownResult | None:
    err = session.streams.progress
    if keep:
        err(f"--keep-on-failure: leaving what run {run_id} created; remove it with `provision destroy {run_id}`")
        return None
    try:
        result = teardown(session.store, run_id, session.cloud, err)
    except KeyboardInterrupt:
        err("cleanup interrupted")
        return None
    if result.removed:
        err("removed after the failure: " + ", ".join(result.removed))
        session.store.update_run(run_id, status="cleaned")
    return result


def _leftovers(session: Session, run_id: str) -> str:
    live = [r for r in session.store.live_resources(run_id) if r.kind != "keypair"]
    if not live:
        return "nothing was left behind"
    cmds = "; ".join(manual_command(r) for r in live)
    return f"left behind: {cmds} (or `provision destroy {run_id}`)"
