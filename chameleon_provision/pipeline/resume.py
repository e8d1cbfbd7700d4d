"""`provision resume RUN`: carry an interrupted or failed run through to a ready node, reusing what it made.

The run's recorded plan says what to create; `pipeline.create` takes up the live lease, server and
address an earlier attempt left, and makes only what is missing. A re-run of `provision REPO --name N`
while run N is live lands here too, instead of making a second lease and server.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from chameleon_provision.cloud.key_manager import decide_key
from chameleon_provision.commands.status import check_same_cloud
from chameleon_provision.decisions.lease import BLAZAR_MINUTE, lease_window
from chameleon_provision.errors import ConfirmationRequired, ProvisionError, StateError
from chameleon_provision.models import LeaseWindow
from chameleon_provision.pipeline.create import CreateSpec, create
from chameleon_provision.pipeline.node_setup import check_setup, follow_setup
from chameleon_provision.pipeline.plan import Outcome
from chameleon_provision.pipeline.session import Session
from chameleon_provision.pipeline.teardown import cleanup_on_failure
from chameleon_provision.state.store import RunRecord

_DONE = ("destroyed", "cleaned")


def live_run_named(session: Session, name: str) -> RunRecord | None:
    """The newest run called `name` that still holds a lease or a server."""
    for run in session.store.runs():
        if run.name == name and run.status not in _DONE and any(
                r.live and r.kind in ("lease", "server") for r in session.store.resources(run.run_id)):
            return run
    return None


def resume(session: Session, run_id: str, *, keep_on_failure: bool = False,
           confirm: Callable[[str], bool] | None = None) -> dict[str, Any]:
    store, progress = session.store, session.streams.progress
    run = store.run(run_id)
    doc = store.plan(run_id)
    if run.mode != "provision" or doc is None:
        raise StateError(f"run {run_id} has no recorded plan to resume", hint="start it again with `provision REPO`")
    if run.status in _DONE:
        raise StateError(f"run {run_id} was {run.status}; nothing is left to resume",
                         hint="start a new one with `provision REPO`")
    check_same_cloud(run, session)
    site = run.region or run.site
    if run.status != "ready":
        if confirm is None:
            raise ConfirmationRequired(f"resuming run {run_id} may create a lease, a server or an address",
                                       hint="pass --yes to confirm without a terminal")
        if not confirm(f"Resume run {run_id} ({doc['resource']['node_type']} at {site})?"):
            raise ProvisionError("cancelled; nothing was created")
    progress(f"resuming run {run_id} ({run.status})")
    settings = session.settings
    spec = CreateSpec(run_id=run_id, site=site, name=run.name or f"prov-{run_id}",
                      resource_properties=tuple(doc["resource"]["resource_properties"]), image_id=doc["image"]["id"],
                      lease=_window(doc["lease"], settings.max_hours),
                      reserve_address=doc.get("floating_ip_plan", {}).get("action") == "reserve",
                      key=decide_key(session.cloud(site), settings.public_key, settings.state_dir / "keys"),
                      user_data=(doc.get("setup") or {}).get("script"))
    outcome = Outcome()
    report: dict[str, Any] = {"run_id": run_id, "decisions": doc}
    store.update_run(run_id, status="started")
    try:
        with cleanup_on_failure(session, run_id, keep_on_failure, report):
            create(session, spec, outcome)
    except ProvisionError as exc:
        exc.details = {**report, **exc.details}
        raise
    store.update_run(run_id, status="ready", ssh_command=outcome.ssh_command, lease_end=spec.lease.end)
    if spec.user_data is not None:
        follow_setup(session, run_id, outcome)
    result = {**doc, "mode": "provision", "resumed": True,
            "lease": {**doc["lease"], "end": spec.lease.end, "id": outcome.lease_id},
            "reservation_id": outcome.reservation_id, "server": outcome.server or None,
            "floating_ip": outcome.floating_ip, "ssh_command": outcome.ssh_command,
            "ssh_reachable": outcome.ssh_reachable, "stats": session.stats()}
    if spec.user_data is not None:
        result["setup"] = {**doc["setup"], "outcome": outcome.setup}
        check_setup(result)
    return result


def _window(recorded: dict[str, Any], max_hours: float) -> LeaseWindow:
    """The recorded window while it lasts (a live lease keeps it); else a new one of the same length."""
    end = datetime.strptime(recorded["end"], BLAZAR_MINUTE).replace(tzinfo=UTC)
    if end > datetime.now(UTC):
        return LeaseWindow("now", recorded["end"], float(recorded["hours"]), recorded.get("decided_by", "rules"),
                           recorded.get("reason", ""))
    return lease_window(float(recorded["hours"]), recorded.get("decided_by", "rules"),
                        f"{recorded.get('reason', '')}; a new window for the resumed run", max_hours)
