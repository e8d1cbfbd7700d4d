"""`provision REPO`: from a repository to an SSH-ready bare-metal node, as one readable sequence.

Each create is recorded in the state database before it is attempted, so a failure, Ctrl+C or a
crash never loses track of a lease, server or address: cleanup and `destroy` read the same rows.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chameleon_provision.cloud import network_manager, reservation_manager, server_launcher
from chameleon_provision.cloud.key_manager import ensure_keypair
from chameleon_provision.errors import ConfirmationRequired, InputError, ProvisionError
from chameleon_provision.pipeline.plan import Outcome, Plan, RepoInfo, document
from chameleon_provision.pipeline.planner import Pins, make_plan
from chameleon_provision.pipeline.session import Session, new_run_id
from chameleon_provision.pipeline.teardown import cleanup_on_failure
from chameleon_provision.repo_analyzer import analyze, open_repository
from chameleon_provision.state.recorder import Recorder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    source: str
    plan_only: bool = False
    pins: Pins = field(default_factory=Pins)
    name: str | None = None
    keep_on_failure: bool = False
    confirm: Callable[[str], bool] | None = None  # None: no terminal and no --yes
    assume_yes: bool = False  # --yes: approves up to the SU ceiling, not beyond


# Nova and Blazar names the tool creates: no leading '-' (never an option to the CLI), nothing a shell or
# a log would mangle, and short enough for "<name>-lease".
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,56}")


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InputError(f"--name {name!r} is not usable: use 1-57 letters, digits, '.', '_' or '-', "
                         "starting with a letter or digit")
    return name


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:30] or "repo"


def _repo_name(source: str, folder: str) -> str:
    """owner/repo(.git) -> repo; clones land in temporary folders with meaningless names."""
    tail = source.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return tail.removesuffix(".git") or folder


def check_cloud(session: Session, site: str) -> None:
    """Step 2: the CLI is there and a token can be issued, once per run, before any decision."""
    session.cloud(site).token_issue()


def run(session: Session, options: RunOptions) -> dict[str, Any]:
    if not options.plan_only and options.confirm is None:  # refuse before cloning or any cloud call
        raise ConfirmationRequired("this run creates a lease, a server and a floating IP",
                                   hint="pass --yes to confirm without a terminal, or --plan-only")
    if options.name is not None:
        check_name(options.name)
    run_id = new_run_id()
    report: dict[str, Any] = {"run_id": run_id, "decisions": {}}
    try:
        return _run(session, options, run_id, report)
    except ProvisionError as exc:  # the `--json` error document says how far the run got
        exc.details = {**report, **exc.details}
        raise


def _run(session: Session, options: RunOptions, run_id: str, report: dict[str, Any]) -> dict[str, Any]:
    settings, progress = session.settings, session.streams.progress
    check_cloud(session, settings.site)
    with open_repository(options.source) as checkout:
        progress(f"reading {checkout.source}" + (f" @ {checkout.commit[:10]}" if checkout.commit else ""))
        analysis = analyze(checkout.path)
        repo = RepoInfo(checkout.source, checkout.commit, _repo_name(checkout.source, checkout.path.name))
    plan = make_plan(session, run_id, repo, analysis, options.pins, decided=report["decisions"])
    report["decisions"] = {k: v for k, v in document(plan, "plan", {}).items() if k not in ("stats", "run_id")}
    if options.plan_only:
        return document(plan, "plan", session.stats())
    summary = (f"Create a {plan.lease.hours:g} h lease on {plan.node.node_type} at {plan.node.site} "
               f"(about {plan.cost.su_total:g} SU: {plan.cost.su_per_hour:g} SU/h), "
               f"a server with {plan.image.image.name} and a floating IP?")
    if plan.cost.su_total > settings.max_su:
        over = f"the plan costs about {plan.cost.su_total:g} SU, over the {settings.max_su:g} SU ceiling: "
        if options.assume_yes:  # --yes approves ordinary runs, not whatever a repository asks for
            raise ConfirmationRequired(over + cost_drivers(plan),
                                       hint="raise the ceiling with --max-su N or PROVISION_MAX_SU, "
                                            "or confirm on a terminal")
        summary = f"{over}{cost_drivers(plan)}.\n{summary}"
    if options.confirm is None or not options.confirm(summary):
        raise ProvisionError("cancelled; nothing was created")
    site = plan.node.site
    identity = session.cloud(site).token_issue()  # the project id: `status` and `destroy` check it later
    name = options.name or f"prov-{_slug(plan.repo.name)}-{plan.run_id}"
    session.store.new_run(run_id, source=repo.source, commit_sha=repo.commit, site=site, mode="provision",
                          name=name, auth_url=settings.credentials_for(site).get("OS_AUTH_URL"),
                          project_id=str(identity.get("project_id") or "") or None, region=site)
    session.store.update_run(run_id, plan_json=json.dumps(document(plan, "plan", {})), lease_end=plan.lease.end)
    outcome = Outcome()
    with cleanup_on_failure(session, run_id, options.keep_on_failure, report):
        _create(session, plan, options, outcome)
    session.store.update_run(run_id, status="ready", ssh_command=outcome.ssh_command)
    return document(plan, "provision", session.stats(), outcome)


def cost_drivers(plan: Plan) -> str:
    """What makes a plan expensive, in the words of the decisions and the repository's own lines."""
    evidence = "; ".join(f'{e.file}:{e.line} "{e.text[:80]}"' for e in plan.requirements.evidence[:2])
    return (f"{plan.lease.hours:g} h ({plan.lease.reason}) x {plan.cost.su_per_hour:g} SU/h for "
            f"{plan.node.node_type} ({plan.node.reason})" + (f"; the repository says: {evidence}" if evidence else ""))


def _create(session: Session, plan: Plan, options: RunOptions, outcome: Outcome) -> None:
    settings, progress = session.settings, session.streams.progress
    site = plan.node.site
    cloud = session.cloud(site)
    recorder = Recorder(session.store, plan.run_id)
    name = session.store.run(plan.run_id).name or f"prov-{_slug(plan.repo.name)}-{plan.run_id}"

    key = ensure_keypair(cloud, plan.key, recorder, site, settings.state_dir / "keys")
    outcome.keypair = key.keypair_name
    progress(f"keypair {key.keypair_name} ({plan.key.action})")

    address_network = cloud.network_id(settings.public_network) if plan.address.action == "reserve" else None
    lease = reservation_manager.create_lease(cloud, recorder, name=f"{name}-lease", site=site,
                                             resource_properties=list(plan.node.resource_properties),
                                             lease=plan.lease, address_network_id=address_network,
                                             progress=progress)
    outcome.lease_id = lease.id
    lease = reservation_manager.wait_active(cloud, lease, timeout=settings.lease_timeout,
                                            poll=settings.poll_seconds, progress=progress)
    outcome.reservation_id = lease.host_reservation_id

    server = server_launcher.launch(cloud, recorder, name=name, site=site, image_id=plan.image.image.id,
                                    key_name=key.keypair_name, network=settings.network,
                                    reservation_id=lease.host_reservation_id or "")
    server = server_launcher.wait_active(cloud, server, timeout=settings.server_timeout,
                                         poll=settings.poll_seconds, progress=progress)
    outcome.server = {"id": server.id, "name": server.name, "status": server.status}

    if lease.address_reservation_id:
        fip = network_manager.reserved_address(cloud, recorder, site, lease.address_reservation_id,
                                               poll=min(settings.poll_seconds, 2.0))
    else:
        fip = network_manager.acquire_address(cloud, recorder, session.store, site, settings.public_network)
    network_manager.attach_address(cloud, server.id, fip)
    outcome.floating_ip = fip.address
    identity = f"-i {key.private_path} " if key.private_path else ""
    outcome.ssh_command = f"ssh {identity}cc@{fip.address}"
    outcome.ssh_reachable = network_manager.wait_for_ssh(fip.address, settings.ssh_timeout, progress)
