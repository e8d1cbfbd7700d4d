"""Every decision of a run, in order, reading the cloud but creating nothing (`--plan-only` stops here)."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from .availability import SiteHosts, failover_order, first_available, load_site_hosts
from .errors import NoCapacityError, NoMatchError
from .hardware_rules import rank_candidates
from .image_selector import choose_image
from .key_manager import decide_key
from .models import ImageRecord, LeaseWindow, Requirements
from .network_manager import plan_address
from .node_selector import choose_node, pinned_candidates, to_choice
from .plan import Plan, RepoInfo
from .repo_analyzer import Analysis, requirements_from_answer, requirements_schema
from .reservation_manager import (
    BLAZAR_MINUTE,
    LEASE_INSTRUCTIONS,
    LEASE_SCHEMA,
    lease_window,
    rules_hours,
    validate_hours,
)
from .session import Session

log = logging.getLogger(__name__)

REQUIREMENTS_INSTRUCTIONS = (
    "Decide what hardware and OS this repository's MAIN documented workload needs, from the scanner's facts and "
    "the quoted excerpts. Cite evidence as file and line from the excerpts. Do not be swayed by sponsor lists, "
    "badges, changelogs or vendored code; a CUDA build merely being possible is not a GPU requirement."
)


@dataclass(frozen=True)
class Pins:
    node_type: str | None = None
    image: str | None = None
    hours: float | None = None


def decide_requirements(session: Session, analysis: Analysis) -> Requirements:
    def check(answer: dict[str, Any]) -> Requirements:
        return requirements_from_answer(answer, analysis)

    facts = [{"signal": f.evidence.signal, "file": f.evidence.file, "line": f.evidence.line,
              "text": f.evidence.text[:200]} for f in analysis.facts[:60]]
    outcome = session.ai.decide("requirements", instructions=REQUIREMENTS_INSTRUCTIONS,
                                data={"facts": facts, "excerpts": analysis.excerpts(),
                                      "rules_answer": analysis.requirements.to_dict() | {"evidence": []}},
                                schema=requirements_schema(), validate=check)
    if outcome.value is not None:
        return outcome.value
    req = analysis.requirements
    if outcome.note and session.ai.enabled:
        req = replace(req, reason=f"{req.reason} (AI: {outcome.note})")
    return req


def decide_lease(session: Session, req: Requirements, pinned_hours: float | None) -> LeaseWindow:
    max_hours = session.settings.max_hours
    if pinned_hours is not None:
        return lease_window(pinned_hours, "pinned", "pinned with --hours", max_hours)
    outcome = session.ai.decide("lease_hours", instructions=LEASE_INSTRUCTIONS,
                                data={"estimated_runtime_hours": req.estimated_runtime_hours,
                                      "gpu": {"required": req.gpu.required, "count": req.gpu.count},
                                      "frameworks": list(req.frameworks), "max_hours": max_hours,
                                      "now_utc": datetime.now(UTC).replace(tzinfo=None).strftime(BLAZAR_MINUTE)},
                                schema=LEASE_SCHEMA, validate=lambda a: validate_hours(a, max_hours))
    if outcome.value is not None:
        return lease_window(outcome.value[0], "ai", outcome.value[1], max_hours)
    hours, reason = rules_hours(req)
    if outcome.note and session.ai.enabled:
        reason += f" (AI: {outcome.note})"
    return lease_window(hours, "rules", reason, max_hours)


def _window_dates(lease: LeaseWindow) -> tuple[datetime, datetime]:
    end = datetime.strptime(lease.end, BLAZAR_MINUTE)
    now = datetime.now(UTC).replace(tzinfo=None)
    start = now if lease.start == "now" else datetime.strptime(lease.start, BLAZAR_MINUTE)
    return start, end


def make_plan(session: Session, run_id: str, repo: RepoInfo, analysis: Analysis, pins: Pins) -> Plan:
    progress = session.streams.progress
    req = decide_requirements(session, analysis)
    progress(f"requirements: GPU {req.gpu.required} ({req.gpu.vendor}, {req.gpu.count}x "
             f"{req.gpu.min_memory_gb or '?'} GB), decided by {req.decided_by}")
    sites = session.reachable_sites()
    nodes = session.nodes(sites)
    if pins.node_type:
        candidates = pinned_candidates(req, nodes, pins.node_type, None)
        choice = to_choice(candidates[0], "pinned", "pinned with --node-type")
    else:
        candidates = rank_candidates(req, nodes, preferred_site=session.settings.site)
        choice, candidates = choose_node(session.ai, req, candidates, nodes, session.settings.site)
    lease = decide_lease(session, req, pins.hours)
    start, end = _window_dates(lease)

    site_hosts: dict[str, SiteHosts] = {}

    def hosts_for(site: str) -> SiteHosts:
        if site not in site_hosts:
            site_hosts[site] = load_site_hosts(session.cloud(site), [n for n in nodes if n.site == site])
        return site_hosts[site]

    first = next(c for c in candidates if c.site == choice.site and c.node_type == choice.node_type
                 and list(c.resource_properties) == list(choice.resource_properties))
    found, checked = first_available(failover_order(candidates, first), hosts_for, start, end)
    if found is None:
        raise _no_capacity(checked, lease)
    notes = tuple(f"{a.candidate.node_type} at {a.candidate.site}: no free host of {a.total_hosts}"
                  for a in checked if a.free_hosts == 0)
    if found.candidate is not first:
        choice = to_choice(found.candidate, "rules", f"{found.candidate.reason}; failover: {notes[0]}")
    progress(f"node: {choice.node_type} at {choice.site} ({found.free_hosts} free), decided by {choice.decided_by}")

    cloud = session.cloud(choice.site)
    images = _images(session, choice.site)
    image = choose_image(session.ai, req, choice.hardware, images, pins.image)
    arch = cloud.image_properties(image.image.id).get("architecture")
    if arch and arch != choice.hardware.arch:  # names can lie; Glance's property cannot
        raise NoMatchError(f"image {image.image.name} is built for {arch}, the node is {choice.hardware.arch}")
    progress(f"image: {image.image.name}, decided by {image.decided_by}")
    return Plan(run_id=run_id, repo=repo, requirements=req, node=choice, available_hosts=found.free_hosts,
                image=image, lease=lease,
                key=decide_key(cloud, session.settings.public_key, session.settings.state_dir / "keys"),
                address=plan_address(cloud), notes=notes)


def _images(session: Session, site: str) -> list[ImageRecord]:
    rows = session.cache.get_or_load(f"images-{session.settings.credentials_for(site).get('OS_AUTH_URL')}",
                                     lambda: [asdict(i) for i in session.cloud(site).images()])
    return [ImageRecord(**(r | {"properties": tuple(tuple(p) for p in r["properties"])})) for r in rows]


def _no_capacity(checked: list[Any], lease: LeaseWindow) -> NoCapacityError:
    tried = ", ".join(f"{a.candidate.node_type}@{a.candidate.site}" for a in checked)
    frees = [a for a in checked if a.next_free is not None]
    when = ""
    if frees:
        soonest = min(frees, key=lambda a: a.next_free)
        when = f"; {soonest.candidate.node_type} at {soonest.candidate.site} frees up at " \
               f"{soonest.next_free:%Y-%m-%d %H:%M} UTC"
    return NoCapacityError(f"no free node for {lease.hours:g} h among {tried}{when}",
                           hint="try a shorter --hours, another --node-type, or later")
