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

from chameleon_provision.errors import ConfirmationRequired, InputError, ProvisionError
from chameleon_provision.pipeline.create import CreateSpec, create
from chameleon_provision.pipeline.node_setup import check_setup, follow_setup, with_setup
from chameleon_provision.pipeline.plan import Outcome, Plan, RepoInfo, document
from chameleon_provision.pipeline.planner import Pins, make_plan
from chameleon_provision.pipeline.resume import live_run_named, resume
from chameleon_provision.pipeline.session import Session, new_run_id
from chameleon_provision.pipeline.teardown import cleanup_on_failure
from chameleon_provision.repo_analyzer import open_repository
from chameleon_provision.setup.build import SetupOptions, clone_url

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
    new: bool = False  # --new: another run even when a live run has this --name
    setup: SetupOptions = field(default_factory=SetupOptions)  # --setup/--no-setup, --setup-cmd


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
        earlier = None if options.new or options.plan_only else live_run_named(session, options.name)
        if earlier is not None:  # the same command again: carry on with that run, do not make a second one
            session.streams.progress(f"run {earlier.run_id} is already live as {options.name!r}; continuing it "
                                     "(pass --new for another)")
            return resume(session, earlier.run_id, keep_on_failure=options.keep_on_failure, confirm=options.confirm)
    run_id = new_run_id()
    report: dict[str, Any] = {"run_id": run_id, "decisions": {}}
    try:
        return _run(session, options, run_id, report)
    except ProvisionError as exc:  # the `--json` error document says how far the run got
        exc.details = {**report, **exc.details}
        raise


def _run(session: Session, options: RunOptions, run_id: str, report: dict[str, Any]) -> dict[str, Any]:
    settings, progress = session.settings, session.streams.progress
    session.prefetch_nodes(session.reachable_sites())  # the discovery API, while the CLI starts and checks
    check_cloud(session, settings.site)
    session.cloud(settings.site).read_ahead(session.background)  # the plan's reads, while the repo is read
    with open_repository(options.source) as checkout:
        progress(f"reading {checkout.source}" + (f" @ {checkout.commit[:10]}" if checkout.commit else ""))
        analysis = session.analyze(checkout)
        repo = RepoInfo(checkout.source, checkout.commit, _repo_name(checkout.source, checkout.path.name))
        url = clone_url(checkout.source, checkout.path, checkout.is_remote) if options.setup.enabled else None
    plan = make_plan(session, run_id, repo, analysis, options.pins, decided=report["decisions"])
    plan = with_setup(plan, analysis, url, options.setup)
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
                          name=name, auth_url=settings.auth_url_for(site),
                          project_id=str(identity.get("project_id") or "") or None, region=site)
    session.store.update_run(run_id, plan_json=json.dumps(document(plan, "plan", {})), lease_end=plan.lease.end,
                             os_cloud=settings.credentials_for(site).get("OS_CLOUD"))
    outcome = Outcome()
    spec = CreateSpec(run_id=run_id, site=site, name=name, resource_properties=tuple(plan.node.resource_properties),
                      image_id=plan.image.image.id, lease=plan.lease, reserve_address=plan.address.action == "reserve",
                      key=plan.key, user_data=plan.setup.script if plan.setup else None)
    with cleanup_on_failure(session, run_id, options.keep_on_failure, report):
        create(session, spec, outcome)
    session.store.update_run(run_id, status="ready", ssh_command=outcome.ssh_command)
    if plan.setup is not None:
        follow_setup(session, run_id, outcome)
    doc = document(plan, "provision", session.stats(), outcome)
    check_setup(doc)
    return doc


def cost_drivers(plan: Plan) -> str:
    """What makes a plan expensive, in the words of the decisions and the repository's own lines."""
    evidence = "; ".join(f'{e.file}:{e.line} "{e.text[:80]}"' for e in plan.requirements.evidence[:2])
    return (f"{plan.lease.hours:g} h ({plan.lease.reason}) x {plan.cost.su_per_hour:g} SU/h for "
            f"{plan.node.node_type} ({plan.node.reason})" + (f"; the repository says: {evidence}" if evidence else ""))
