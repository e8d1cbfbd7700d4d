"""Every decision of a run, in order, reading the cloud but creating nothing (`--plan-only` stops here)."""

from __future__ import annotations

import logging
from concurrent.futures import Future
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from chameleon_provision.cloud.key_manager import decide_key
from chameleon_provision.cloud.network_manager import plan_reserved_address
from chameleon_provision.decisions.availability import SiteHosts, failover_order, first_available
from chameleon_provision.decisions.hardware_rules import NodeCandidate, rank_candidates
from chameleon_provision.decisions.image_selector import choose_image
from chameleon_provision.decisions.lease import BLAZAR_MINUTE, EARLIEST, decide_lease, starting_at
from chameleon_provision.decisions.node_selector import choose_node, pinned_candidates, to_choice
from chameleon_provision.decisions.requirements import decide_requirements, prefer_gpu
from chameleon_provision.errors import NoCapacityError, NoMatchError
from chameleon_provision.models import ImageRecord, LeaseWindow
from chameleon_provision.pipeline.plan import Cost, Plan, RepoInfo, requirements_doc
from chameleon_provision.pipeline.session import Session
from chameleon_provision.repo_analyzer import Analysis

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Pins:
    node_type: str | None = None
    image: str | None = None
    hours: float | None = None
    prefer_gpu: bool = False  # an optional GPU with the CPU as main path: plan the GPU path anyway
    start: str | None = None  # None (now), "earliest", or "YYYY-MM-DD HH:MM" UTC (decisions.lease.parse_start)


def _window_dates(lease: LeaseWindow) -> tuple[datetime, datetime]:
    end = datetime.strptime(lease.end, BLAZAR_MINUTE)
    now = datetime.now(UTC).replace(tzinfo=None)
    start = now if lease.start == "now" else datetime.strptime(lease.start, BLAZAR_MINUTE)
    return start, end


def make_plan(session: Session, run_id: str, repo: RepoInfo, analysis: Analysis, pins: Pins,
              decided: dict[str, Any] | None = None) -> Plan:
    """`decided` collects each decision as it is made, so a failure can say how far planning got."""
    progress = session.streams.progress
    decided = {} if decided is None else decided
    req = decide_requirements(session.ai, analysis)
    if pins.prefer_gpu:
        req = prefer_gpu(req)
    decided["requirements"] = requirements_doc(req)
    progress(f"requirements: GPU {req.gpu.required} ({req.gpu.vendor}, {req.gpu.count}x "
             f"{req.gpu.min_memory_gb or '?'} GB), decided by {req.decided_by}")
    sites = session.reachable_sites()
    nodes = session.nodes(sites)
    if pins.node_type:
        candidates = pinned_candidates(req, nodes, pins.node_type, None)
        choice = to_choice(candidates[0], "pinned", "pinned with --node-type")
    else:
        candidates = rank_candidates(req, nodes, preferred_site=session.settings.site)
        if candidates:  # the likeliest site's CLI starts while the node decision (maybe the AI) runs
            session.warm(candidates[0].site)
        choice, candidates = choose_node(session.ai, req, candidates, nodes, session.settings.site)
    decided["resource"] = {"site": choice.site, "node_type": choice.node_type, "decided_by": choice.decided_by,
                           "reason": choice.reason}
    lease = decide_lease(session.ai, req, pins.hours, session.settings.max_hours)
    if pins.start not in (None, EARLIEST):
        lease = starting_at(lease, datetime.strptime(str(pins.start), BLAZAR_MINUTE), "booked with --start")
    decided["lease"] = {"hours": lease.hours, "end": lease.end, "decided_by": lease.decided_by, "reason": lease.reason}
    start, end = _window_dates(lease)

    first = next(c for c in candidates if c.site == choice.site and c.node_type == choice.node_type
                 and list(c.resource_properties) == list(choice.resource_properties))
    order = failover_order(candidates, first)
    site_hosts: dict[str, Future[SiteHosts]] = {}

    def hosts_for(site: str) -> SiteHosts:
        if site not in site_hosts:
            # The chosen site alone first; once failover leaves it, every other candidate site may be
            # needed, so their sessions start and their hosts load side by side.
            wanted = [site] if site == first.site else [c.site for c in order if c.site not in site_hosts]
            for name in dict.fromkeys(wanted):
                site_hosts[name] = session.background(session.site_hosts, name,
                                                      [n for n in nodes if n.site == name])
        return site_hosts[site].result()

    with session.capacity() as promise:  # in a real batch, what one run counts on no other run may count on
        found, checked = first_available(order, hosts_for, start, end)
        if found is None and pins.start == EARLIEST and (soonest := _soonest(checked)) is not None:
            lease = starting_at(lease, soonest, "booked at the earliest time a node is free (--start earliest)")
            decided["lease"] = {**decided["lease"], "start": lease.start, "end": lease.end, "reason": lease.reason}
            progress(f"no node is free now; booking from {lease.start} UTC, when one frees up")
            start, end = _window_dates(lease)
            found, checked = first_available(order, hosts_for, start, end)
        if found is not None:
            promise(found, start, end)
    if found is None:
        raise _no_capacity(checked, lease)
    notes = tuple(f"{a.candidate.node_type} at {a.candidate.site}: no free host of {a.total_hosts}"
                  for a in checked if a.free_hosts == 0)
    if not _same_variant(found.candidate, first):
        choice = to_choice(found.candidate, "rules", f"{found.candidate.reason}; failover: {notes[0]}")
    elif found.candidate.resource_properties != first.resource_properties:  # that node is busy: a free twin
        choice = replace(choice, resource_properties=tuple(found.candidate.resource_properties),
                         reason=f"{choice.reason}; {found.candidate.resource_properties[2]} is free over the window")
    progress(f"node: {choice.node_type} at {choice.site} ({found.free_hosts} free), decided by {choice.decided_by}")

    cloud = session.cloud(choice.site)
    # Independent of the image decision (which may wait on the AI): read the keypairs meanwhile.
    key = session.background(decide_key, cloud, session.settings.public_key, session.settings.state_dir / "keys")
    images = _images(session, choice.site)
    image = choose_image(session.ai, req, choice.hardware, images, pins.image)
    arch = cloud.image_properties(image.image.id).get("architecture")
    if arch and arch != choice.hardware.arch:  # names can lie; Glance's property cannot
        raise NoMatchError(f"image {image.image.name} is built for {arch}, the node is {choice.hardware.arch}")
    progress(f"image: {image.image.name}, decided by {image.decided_by}")
    return Plan(run_id=run_id, repo=repo, requirements=req, node=choice, available_hosts=found.free_hosts,
                image=image, lease=lease,
                key=key.result(), address=plan_reserved_address(), cost=Cost(found.su_factor, lease.hours), notes=notes)


def _same_variant(a: NodeCandidate, b: NodeCandidate) -> bool:
    def variant(c: NodeCandidate) -> tuple[object, ...]:
        hw = c.hardware
        return c.site, c.node_type, hw.gpu_model, hw.gpu_count, hw.fpga, hw.nvme_spare, hw.infiniband

    return variant(a) == variant(b)


def _images(session: Session, site: str) -> list[ImageRecord]:
    rows = session.cache.get_or_load(f"images-{session.settings.auth_url_for(site)}",
                                     lambda: [asdict(i) for i in session.cloud(site).images()])
    return [ImageRecord(**(r | {"properties": tuple(tuple(p) for p in r["properties"])})) for r in rows]


def _soonest(checked: list[Any]) -> datetime | None:
    """The first whole minute at which one of the checked candidates has a node free."""
    frees = [a.next_free for a in checked if a.next_free is not None]
    if not frees:
        return None
    when = min(frees)
    return when if when == when.replace(second=0, microsecond=0) else \
        when.replace(second=0, microsecond=0) + timedelta(minutes=1)


def _no_capacity(checked: list[Any], lease: LeaseWindow) -> NoCapacityError:
    tried = ", ".join(f"{a.candidate.node_type}@{a.candidate.site}" for a in checked)
    frees = [a for a in checked if a.next_free is not None]
    when, hint = "", "try a shorter --hours, another --node-type, or later"
    if frees:
        soonest = min(frees, key=lambda a: a.next_free)
        when = f"; {soonest.candidate.node_type} at {soonest.candidate.site} frees up at " \
               f"{soonest.next_free:%Y-%m-%d %H:%M} UTC"
        hint = "`--start earliest` books it from then; or a shorter --hours, another --node-type"
    return NoCapacityError(f"no free node for {lease.hours:g} h among {tried}{when}", hint=hint)
