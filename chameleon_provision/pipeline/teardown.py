"""Removing what a run created again (failure cleanup, Ctrl+C, `destroy`), in an order that strands nothing."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
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


# Statuses in which a resource is as good as gone: Nova's deleted servers, Blazar's ending leases.
_GONE = {"server": ("DELETED", "SOFT_DELETED"), "lease": ("TERMINATED", "TERMINATING", "DELETING")}


IN_FLIGHT_GRACE = 15.0  # seconds an interrupted create is given to appear before it counts as never made


class _Ambiguous(Exception):
    """More than one cloud resource answers to a row that has no id: deleting any could hit someone else's."""


def locate(cloud: Cloud, r: ResourceRecord) -> tuple[str, str] | None:
    """(cloud id, status) of what the row stands for, read from the cloud; None when it is not there.

    A row without an id is a create that was interrupted before the id came back: it is found again by
    the run's unique name (for an address, the description this tool writes, or the recorded address).
    """
    if r.kind == "server":
        rows = [(s.id, s.name, s.status) for s in cloud.servers()]
    elif r.kind == "lease":
        rows = [(str(x.get("id")), str(x.get("name", "")), str(x.get("status", ""))) for x in cloud.leases()]
    elif r.kind == "floating_ip":
        address = r.detail.get("address")
        rows = [(f.id, f.address if address and f.address == address else f.description, "")
                for f in cloud.floating_ips()]
    else:
        return None
    if r.cloud_id:
        return next(((i, status) for i, _name, status in rows if i == r.cloud_id), None)
    wanted = r.detail.get("address") or r.name
    matches = [(i, status) for i, name, status in rows if name == wanted]
    if len(matches) > 1:
        raise _Ambiguous(f"{len(matches)} {r.kind}s are named {wanted!r}; delete the right one by id")
    return matches[0] if matches else None


def _gone(kind: str, found: tuple[str, str] | None) -> bool:
    return found is None or found[1].upper() in _GONE.get(kind, ())


def _delete(cloud: Cloud, kind: str, cloud_id: str) -> None:
    if kind == "server":
        cloud.server_delete(cloud_id)
    elif kind == "floating_ip":
        cloud.floating_ip_delete(cloud_id)
    elif kind == "lease":
        cloud.lease_delete(cloud_id)


def remove(cloud: Cloud, r: ResourceRecord, wait: float, poll: float) -> tuple[bool, str | None]:
    """Delete by id and read it back until it is gone: (whether anything was deleted, why it is still there)."""
    found = locate(cloud, r)
    if found is None and r.cloud_id is None:
        # An interrupted create may still be on its way to the cloud (Ctrl+C does not stop a request
        # already sent): look again for a little while before calling it never made.
        deadline = time.monotonic() + min(wait, IN_FLIGHT_GRACE)
        while found is None and time.monotonic() < deadline:
            time.sleep(poll or 0.5)
            found = locate(cloud, r)
    if _gone(r.kind, found):
        return found is not None, None
    assert found is not None
    by_id = replace(r, cloud_id=found[0])
    try:
        _delete(cloud, r.kind, found[0])
    except OpenStackError as exc:
        if _gone(r.kind, locate(cloud, by_id)):  # it went anyway (a race with the lease's end, say)
            return True, None
        return False, exc.message
    deadline = time.monotonic() + wait
    while True:
        found = locate(cloud, by_id)
        if _gone(r.kind, found):
            return True, None
        if time.monotonic() >= deadline:
            return True, f"still {found[1] if found and found[1] else 'present'} {wait:.0f} s after the delete"
        time.sleep(poll)


def teardown(store: StateStore, run_id: str, cloud_for: Callable[[str], Cloud],
             progress: Callable[[str], None] = lambda _m: None, *, wait: float = 120.0,
             poll: float = 2.0) -> TeardownResult:
    """Delete every live resource of a run (servers, addresses, leases) and confirm each is gone.

    Nothing is inferred from error text: a resource counts as removed only when the cloud, asked
    again, no longer has it (or shows it in a terminal state). Keypairs are kept on purpose.
    """
    removed: list[str] = []
    left: list[str] = []
    for r in store.live_resources(run_id):
        if r.kind == "keypair":
            continue
        label = f"{r.kind} {r.cloud_id or r.name}"
        deleted = False
        try:
            deleted, problem = remove(cloud_for(r.site), r, wait, poll)
        except (OpenStackError, _Ambiguous) as exc:
            problem = exc.message if isinstance(exc, OpenStackError) else str(exc)
        if problem:
            log.warning("could not delete %s: %s", label, problem)
            left.append(f"{label}: {problem}")
            continue
        store.mark(r.id, "deleted")
        if deleted or r.cloud_id:  # a create that never came to be is closed, not reported as removed
            removed.append(label)
            progress(f"removed {label}")
    return TeardownResult(tuple(removed), tuple(left))


@contextmanager
def cleanup_on_failure(session: Session, run_id: str, keep: bool, report: dict[str, Any]) -> Iterator[None]:
    """Any failure, Ctrl+C or SIGTERM inside removes what the run created (unless `keep`).

    `report` receives `removed` and `left`, for the error's `--json` document.
    """
    # Signals reach the main thread only; a batch runs each run in a worker and interrupts it from there.
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    if in_main:
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
        if in_main:
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
