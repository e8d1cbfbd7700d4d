"""`provision destroy RUN`: confirm, remove what the run created (read back), and drop its ssh alias."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chameleon_provision.commands.ssh import forget
from chameleon_provision.commands.status import check_same_cloud
from chameleon_provision.errors import ConfirmationRequired, ProvisionError, TeardownIncomplete
from chameleon_provision.pipeline.session import Session
from chameleon_provision.pipeline.teardown import teardown
from chameleon_provision.state.run_log import log_path
from chameleon_provision.state.store import RunRecord


def destroy_run(session: Session, run: RunRecord, confirm: Callable[[str], bool] | None, *,
                quiet_summary: bool) -> dict[str, Any]:
    """The `destroy` document; TeardownIncomplete (carrying it) when something could not be removed."""
    run_id = run.run_id
    session.log.open(log_path(session.settings.state_dir, run_id))
    live = [r for r in session.store.live_resources(run_id) if r.kind != "keypair"]
    if live:
        check_same_cloud(run, session)  # never report deletions made in (or against) another cloud
        if confirm is None:
            raise ConfirmationRequired(f"destroying run {run_id} deletes {len(live)} resources",
                                       hint="pass --yes to confirm without a terminal")
        names = ", ".join(f"{r.kind} {r.cloud_id or r.name}" for r in live)
        if not confirm(f"Delete {names}?"):
            raise ProvisionError("cancelled; nothing was deleted")
    result = teardown(session.store, run_id, session.cloud, session.streams.progress)
    session.store.update_run(run_id, status="destroyed" if not result.left else "destroy-incomplete")
    if not result.left and forget(session.settings.state_dir, run_id):  # `ssh NAME` goes with the node
        session.log.event("ssh", f"removed the Host block of run {run_id}")
    doc = {"schema_version": 1, "run_id": run_id, "removed": list(result.removed), "left": list(result.left)}
    if not quiet_summary:
        session.streams.out.print(f"Run {run_id}: removed {len(result.removed)} resources"
                                  + ("" if not result.removed else ": " + ", ".join(result.removed)))
    if result.left:  # the error document carries `removed` and `left`
        raise TeardownIncomplete(f"could not remove: {'; '.join(result.left)}", details=doc)
    return doc
