"""Decision 3, node type and Blazar filter: answer model, prompt, and the check against the sites' hardware.

The rules that rank adequate node types are in hardware_rules; the model may only pick among them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import Field

from chameleon_provision.ai_client import AIClient, Answer
from chameleon_provision.decisions.hardware_rules import (
    NodeCandidate,
    adequate,
    no_match,
    rank_candidates,
    resource_properties_valid,
)
from chameleon_provision.errors import InputError, NoMatchError
from chameleon_provision.models import DecidedBy, NodeChoice, NodeRecord, Requirements

NODE_INSTRUCTIONS = (
    "Choose one Chameleon node type for this repository from the candidates, all of which meet the stated "
    "needs. Prefer the smallest adequate hardware (scarce GPUs such as H100/A100 only when needed), the "
    "preferred site on ties. Give the candidate's Blazar resource_properties filter as listed: "
    "[\"==\", \"$node_type\", TYPE], or, for a node type that mixes hardware, [\"==\", \"$node_name\", NAME] with NAME "
    "from its node_names. "
    "Exactly one node is reserved, whatever the repository says."
)


class NodeAnswer(Answer):
    site: str
    node_type: str
    resource_properties: list[Any] = Field(min_length=1)
    reason: str


def _candidate_row(c: NodeCandidate) -> dict[str, Any]:
    hw = c.hardware
    return {"site": c.site, "node_type": c.node_type, "resource_properties": list(c.resource_properties),
            "hosts": c.hosts, "arch": hw.arch, "cpu_threads": hw.cpu_threads, "ram_gb": hw.ram_gb,
            "gpu_vendor": hw.gpu_vendor, "gpu_model": hw.gpu_model, "gpu_count": hw.gpu_count,
            "gpu_memory_gb": hw.gpu_memory_gb, "gpu_compute_capability": hw.gpu_compute_capability,
            "fpga": hw.fpga, "spare_nvme": hw.nvme_spare, "infiniband": hw.infiniband, "nvdimm": hw.nvdimm,
            } | ({"node_names": list(c.node_names[:20])} if c.node_names else {})


def to_choice(c: NodeCandidate, decided_by: DecidedBy, reason: str) -> NodeChoice:
    return NodeChoice(site=c.site, node_type=c.node_type, resource_properties=tuple(c.resource_properties),
                      hardware=c.hardware, candidates=c.hosts, decided_by=decided_by, reason=reason)


def pinned_candidates(req: Requirements, nodes: Sequence[NodeRecord], node_type: str, site: str | None
                      ) -> list[NodeCandidate]:
    """Candidates for a --node-type pin; the pin must exist at the site and still meet the requirements."""
    of_type = [n for n in nodes if n.node_type == node_type and (site is None or n.site == site)]
    if not of_type:
        where = f" at {site}" if site else ""
        known = sorted({n.node_type for n in nodes if site is None or n.site == site})
        raise InputError(f"node type {node_type!r} does not exist{where}", hint=f"known: {', '.join(known)}")
    ranked = rank_candidates(req, of_type, preferred_site=site)
    if not ranked:
        raise NoMatchError(f"--node-type {node_type} does not meet the requirements: {adequate(req, of_type[0])}")
    return ranked


def choose_node(ai: AIClient, req: Requirements, candidates: Sequence[NodeCandidate], nodes: Sequence[NodeRecord],
                preferred_site: str) -> tuple[NodeChoice, list[NodeCandidate]]:
    """The chosen candidate first, then the rest in the order failover should try them."""
    if not candidates:
        raise no_match(req, nodes)
    shown = list(candidates[:15])

    def check(answer: NodeAnswer) -> tuple[NodeCandidate, str]:
        match = next((c for c in candidates if c.site == answer.site and c.node_type == answer.node_type), None)
        if match is None:
            raise ValueError(f"{answer.node_type} at {answer.site} is not one of the adequate candidates")
        props = answer.resource_properties
        problem = resource_properties_valid(props, nodes, match.site)
        if problem:
            raise ValueError(f"resource_properties {json.dumps(props)} rejected: {problem}")
        if json.dumps(props) != json.dumps(list(match.resource_properties)):
            same_type = [c for c in candidates if c.site == match.site and c.node_type == match.node_type]
            exact = next((c for c in same_type if json.dumps(list(c.resource_properties)) == json.dumps(props)), None)
            named = next((c for c in same_type if len(props) == 3 and props[1] == "$node_name"
                          and props[2] in c.node_names), None)
            if exact is None and named is None:
                raise ValueError("resource_properties must select the candidate's hardware exactly as listed, or "
                                 "name one of its node_names with [\"==\", \"$node_name\", NAME]")
            match = exact or (named.with_node(props[2]) if named else match)
        # the named node itself must meet every need (FPGA board, NVMe, InfiniBand, GPU generation, ...)
        node = next((n for n in nodes if n.site == match.site and len(props) == 3 and props[1] == "$node_name"
                     and n.node_name == props[2]), match.hardware)
        if problem := adequate(req, node):
            raise ValueError(f"{node.node_name or match.node_type} at {match.site} does not meet the need: {problem}")
        return match, answer.reason[:200]

    outcome = ai.decide("node_type", instructions=NODE_INSTRUCTIONS,
                        data={"requirements": req.to_dict() | {"evidence": []}, "preferred_site": preferred_site,
                              "candidates": [_candidate_row(c) for c in shown]},
                        answer=NodeAnswer, validate=check)
    if outcome.value is not None:
        first, reason = outcome.value
        rest = [c for c in candidates if c is not first]
        return to_choice(first, "ai", reason), [first, *rest]
    first = candidates[0]
    note = f" (AI: {outcome.note})" if outcome.note and ai.enabled else ""
    return to_choice(first, "rules", first.reason + note), list(candidates)
