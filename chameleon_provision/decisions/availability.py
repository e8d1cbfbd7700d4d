"""Step 7: which candidates have a free host over the lease window (one allocations query per site)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chameleon_provision.cloud.operations import Cloud
from chameleon_provision.cloud.resource_discovery import (
    BlazarHost,
    busy_host_ids,
    next_free,
    reservable_nodes,
)
from chameleon_provision.decisions.hardware_rules import NodeCandidate
from chameleon_provision.models import NodeRecord


@dataclass(frozen=True)
class SiteHosts:
    nodes: tuple[tuple[NodeRecord, BlazarHost], ...]
    allocations: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class Availability:
    candidate: NodeCandidate  # for a node type that mixes hardware: naming a node that is free
    free_hosts: int
    total_hosts: int
    next_free: datetime | None
    free_nodes: tuple[str, ...] = ()  # node names of the free hosts
    su_factor: float = 1.0  # service units per hour of the host the lease will get (the dearest it could get)


def _matches(node: NodeRecord, c: NodeCandidate) -> bool:
    hw = c.hardware
    # liqid (1 or 2 A100s) and p100_nvlink (2 or 4 P100s) differ only in GPU count
    return (node.site == c.site and node.node_type == c.node_type and node.gpu_model == hw.gpu_model
            and node.gpu_count == hw.gpu_count)


def load_site_hosts(cloud: Cloud, nodes: Sequence[NodeRecord]) -> SiteHosts:
    hosts = [BlazarHost.from_record(h) for h in cloud.hosts()]
    return SiteHosts(tuple(reservable_nodes(nodes, hosts)), tuple(cloud.allocations()))


def check(candidate: NodeCandidate, site_hosts: SiteHosts, start: datetime, end: datetime) -> Availability:
    mine = [(n, h) for n, h in site_hosts.nodes if _matches(n, candidate)]
    if candidate.node_names:  # reserved by name: only this variant's adequate nodes count
        mine = [(n, h) for n, h in mine if n.node_name in candidate.node_names]
    busy = busy_host_ids(site_hosts.allocations, start, end)
    free = sorted(n.node_name for n, h in mine if h.id not in busy)
    when = None if free else next_free(site_hosts.allocations, [h.id for _, h in mine], start)
    if candidate.node_names and free:
        named = candidate.resource_properties[2] if len(candidate.resource_properties) == 3 else None
        candidate = candidate if named in free else candidate.with_node(free[0])
    if candidate.node_names and free:
        factors = [h.su_factor for n, h in mine if n.node_name == candidate.resource_properties[2]]
    else:
        factors = [h.su_factor for n, h in mine if h.id not in busy] or [h.su_factor for _, h in mine]
    return Availability(candidate, len(free), len(mine), when, tuple(free), max(factors, default=1.0))


def failover_order(candidates: Sequence[NodeCandidate], first: NodeCandidate) -> list[NodeCandidate]:
    """The chosen candidate, then the next adequate types at its site, then the other sites."""
    rest = [c for c in candidates if c is not first]
    return [first, *[c for c in rest if c.site == first.site], *[c for c in rest if c.site != first.site]]


def first_available(order: Sequence[NodeCandidate], hosts_for: Callable[[str], SiteHosts], start: datetime,
                    end: datetime) -> tuple[Availability | None, list[Availability]]:
    checked: list[Availability] = []
    for candidate in order:
        result = check(candidate, hosts_for(candidate.site), start, end)
        checked.append(result)
        if result.free_hosts > 0:
            return result, checked
    return None, checked
