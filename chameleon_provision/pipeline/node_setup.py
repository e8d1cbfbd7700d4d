"""The run's side of the node setup: the script for the plan, and following it once the address is attached."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from chameleon_provision.errors import SetupFailed
from chameleon_provision.pipeline.plan import Outcome, Plan
from chameleon_provision.pipeline.session import Session
from chameleon_provision.repo_analyzer import Analysis
from chameleon_provision.setup.build import SetupOptions, build
from chameleon_provision.setup.follow import SetupOutcome, Target, follow


def with_setup(plan: Plan, analysis: Analysis, url: str | None, options: SetupOptions) -> Plan:
    """The plan with its setup script, or with the reason it has none."""
    if not options.enabled:
        return replace(plan, setup_reason="--no-setup")
    if url is None:
        return replace(plan, setup_reason="a local folder with no https:// or git@ `origin` remote: nothing the "
                                          "node could clone")
    script = build(name=plan.repo.name, url=url, commit=plan.repo.commit, analysis=analysis,
                   gpu_vendor=plan.node.hardware.gpu_vendor, options=options)
    if url != plan.repo.source:  # a local folder: the node can only have what its remote has
        note = f"the node clones {url}" + (f" at {plan.repo.commit[:12]}" if plan.repo.commit else "")
        script = replace(script, notes=(*script.notes, f"{note}: push that commit before the node boots"))
    return replace(plan, setup=script)


def follow_setup(session: Session, run_id: str, outcome: Outcome) -> SetupOutcome:
    """Follow the setup to its end (or the timeout) and record what was seen; never fails the run itself."""
    settings, progress = session.settings, session.streams.progress
    if not outcome.floating_ip or not outcome.ssh_reachable or settings.setup_timeout <= 0:
        why = ("PROVISION_SETUP_TIMEOUT is 0" if settings.setup_timeout <= 0 and outcome.ssh_reachable
               else "the node does not answer SSH from here")
        result = SetupOutcome("not followed", detail=f"{why}; the setup runs on the node by itself "
                                                     "(see ~/.provision/setup.log there)")
    else:
        known = settings.state_dir / "known_hosts"
        known.mkdir(parents=True, exist_ok=True)
        target = Target(outcome.floating_ip, Path(outcome.identity) if outcome.identity else None, known / run_id)
        progress(f"following the setup on {outcome.floating_ip} (up to {settings.setup_timeout:.0f} s; "
                 "Ctrl+C stops following, not the setup)")
        result = follow(target, timeout=settings.setup_timeout, poll=settings.poll_seconds, progress=progress)
    progress(f"setup: {result.state}" + (f" ({result.detail})" if result.detail else ""))
    if result.state == "failed" and result.log_tail:
        progress("the end of ~/.provision/setup.log on the node:\n" + result.log_tail.rstrip())
    session.store.update_run(run_id, setup_json=json.dumps(result.as_dict()))
    outcome.setup = result.as_dict()
    return result


def check_setup(doc: dict[str, Any]) -> None:
    """A failed setup ends the command with its own exit code; the node and lease stay for the user to look."""
    seen = (doc.get("setup") or {}).get("outcome") or {}
    if seen.get("state") == "failed":
        raise SetupFailed(f"the node is up but its setup failed in step {seen.get('failed_step')}",
                          hint=f"look with `{doc.get('ssh_command')} cat .provision/setup.log`; "
                               f"`provision destroy {doc.get('run_id')}` when done", details=doc)
