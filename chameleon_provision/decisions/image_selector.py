"""Decision 2, the image, in two stages (a shortlist from the site's catalog, then one image for the node).

The rules and the image-name parsing are in image_rules; every AI answer must name catalog images that fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from pydantic import Field

from chameleon_provision.ai_client import AIClient, Answer
from chameleon_provision.decisions.image_rules import image_fits, image_shortlist, info, rules_image
from chameleon_provision.errors import InputError
from chameleon_provision.models import ImageChoice, ImageRecord, NodeRecord, Requirements

SHORTLIST_INSTRUCTIONS = (
    "From the site's image catalog, shortlist up to five image names that could run this repository on the "
    "chosen node: the OS release it needs, CUDA images for NVIDIA GPUs, ROCm for AMD, ARM64 for aarch64, "
    "plain images for CPU nodes. Use names exactly as listed."
)
PICK_INSTRUCTIONS = (
    "Pick the single best image from the shortlist for this repository and node. Prefer Chameleon-supported "
    "CC- images, the newest Ubuntu the repository allows, and the exact CUDA/ROCm variant the node's GPU needs."
)


class ShortlistAnswer(Answer):
    names: list[str] = Field(min_length=1, max_length=5)
    reason: str


class PickAnswer(Answer):
    name: str
    reason: str


def _facts(req: Requirements, node: NodeRecord) -> dict[str, Any]:
    return {
        "requirements": {"os": req.os, "cuda": req.cuda, "rocm": req.rocm, "frameworks": list(req.frameworks),
                         "gpu": asdict(req.gpu)},
        "node": {"node_type": node.node_type, "arch": node.arch, "gpu_vendor": node.gpu_vendor,
                 "gpu_model": node.gpu_model, "gpu_count": node.gpu_count},
    }


def _row(image: ImageRecord) -> dict[str, str]:
    i = info(image)
    return {"name": image.name, "architecture": i.arch, "variant": i.variant,
            "os": f"{i.distro}{i.version:g}" if i.distro else ""}


def choose_image(ai: AIClient, req: Requirements, node: NodeRecord, images: Sequence[ImageRecord],
                 pinned: str | None = None) -> ImageChoice:
    by_name = {i.name: i for i in images}
    if pinned:
        image = by_name.get(pinned) or next((i for i in images if i.id == pinned), None)
        if image is None:
            raise InputError(f"image {pinned!r} does not exist at {node.site}",
                             hint="`openstack image list` shows the names")
        why_not = image_fits(image, node)
        if why_not:
            raise InputError(f"--image {pinned} cannot boot {node.node_type}: {why_not}")
        return ImageChoice(image, "pinned", "pinned with --image")

    fitting = [i for i in images if image_fits(i, node) is None]

    def check_shortlist(answer: ShortlistAnswer) -> list[ImageRecord]:
        unknown = [n for n in answer.names if n not in by_name]
        if unknown:
            raise ValueError(f"not in the catalog: {', '.join(unknown)}")
        kept = [by_name[n] for n in answer.names if image_fits(by_name[n], node) is None]
        if not kept:
            raise ValueError("none of the shortlisted images fits the node's architecture and GPU vendor")
        return kept

    stage1 = ai.decide("image_shortlist", instructions=SHORTLIST_INSTRUCTIONS,
                       data={**_facts(req, node), "catalog": [_row(i) for i in fitting or images]},
                       answer=ShortlistAnswer, validate=check_shortlist)
    shortlist = stage1.value or image_shortlist(req, node, images)

    def check_pick(answer: PickAnswer) -> tuple[ImageRecord, str]:
        chosen = next((i for i in shortlist if i.name == answer.name), None)
        if chosen is None:
            raise ValueError(f"{answer.name!r} is not on the shortlist")
        why_not = image_fits(chosen, node)
        if why_not:
            raise ValueError(f"{chosen.name} does not fit the node: {why_not}")
        return chosen, answer.reason[:200]

    if shortlist:
        stage2 = ai.decide("image_pick", instructions=PICK_INSTRUCTIONS,
                           data={**_facts(req, node), "shortlist": [_row(i) for i in shortlist]},
                           answer=PickAnswer, validate=check_pick)
        if stage2.value is not None:
            return ImageChoice(stage2.value[0], "ai", stage2.value[1])
        note = stage2.note
    else:
        note = stage1.note
    image = rules_image(req, node, images)
    return ImageChoice(image, "rules", _rules_reason(image, node) + (f" (AI: {note})" if note and ai.enabled else ""))


def _rules_reason(image: ImageRecord, node: NodeRecord) -> str:
    if node.gpu_vendor == "nvidia":
        return f"{image.name}: CUDA image for the node's NVIDIA GPU"
    if node.gpu_vendor == "amd":
        return f"{image.name}: ROCm image for the node's AMD GPU"
    if node.gpu_vendor == "intel" and node.gpu_count:
        return f"{image.name}: plain image (Chameleon publishes no Intel GPU image; install oneAPI on the node)"
    if node.arch == "aarch64":
        return f"{image.name}: ARM64 image for an aarch64 node"
    return f"{image.name}: plain image for a CPU node"
