"""Decision 2, the image: pins, the two AI stages (shortlist, pick) and their checks, the rules' reasons."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from catalog import TACC, UC, images, nodes

from chameleon_provision.ai_client import AIClient, AIOutcome, AISettings
from chameleon_provision.decisions.image_selector import PickAnswer, ShortlistAnswer, choose_image
from chameleon_provision.errors import InputError
from chameleon_provision.models import NodeRecord, Requirements

CATALOG = nodes()
IMAGES = images()
REQ = Requirements(os="ubuntu22.04")
AI_OFF = AIClient(AISettings(api_key=None, base_url=None, mode="off"))


def node(node_type: str, site: str = UC) -> NodeRecord:
    return next(n for n in CATALOG if n.node_type == node_type and n.site == site)


RTX = node("gpu_rtx_6000")


class StubAI:
    """An AIClient stand-in: each decision runs the caller's `validate` on the answer prepared for it."""

    enabled = True

    def __init__(self, **answers: Any) -> None:
        self.answers = answers
        self.data: dict[str, dict[str, Any]] = {}

    def decide(self, name: str, *, instructions: str, data: dict[str, Any], answer: type,
               validate: Callable[[Any], Any]) -> AIOutcome[Any]:
        self.data[name] = data
        given = self.answers.get(name)
        if given is None:
            return AIOutcome(None, False, 1, f"{name} failed")
        return AIOutcome(validate(given), True, 1, "")


def shortlist(*names: str) -> ShortlistAnswer:
    return ShortlistAnswer(names=list(names), reason="fits")


def pick(name: str, reason: str = "best") -> PickAnswer:
    return PickAnswer(name=name, reason=reason)


# --- pins ----------------------------------------------------------------------------------------

def test_pin_by_name_is_used_without_asking_the_ai() -> None:
    ai = StubAI()
    choice = choose_image(ai, REQ, RTX, IMAGES, pinned="CC-Ubuntu20.04-CUDA")
    assert (choice.image.name, choice.decided_by, choice.reason) == ("CC-Ubuntu20.04-CUDA", "pinned",
                                                                     "pinned with --image")
    assert ai.data == {}


def test_pin_by_id_finds_the_image() -> None:
    wanted = next(i for i in IMAGES if i.name == "CC-Ubuntu22.04-CUDA")
    assert choose_image(AI_OFF, REQ, RTX, IMAGES, pinned=wanted.id).image == wanted


def test_unknown_pin_is_input_error_naming_the_site() -> None:
    with pytest.raises(InputError, match="image 'CC-Nope' does not exist at CHI@UC"):
        choose_image(AI_OFF, REQ, RTX, IMAGES, pinned="CC-Nope")


def test_pin_that_cannot_boot_the_node_is_input_error_saying_why() -> None:
    with pytest.raises(InputError, match=r"cannot boot gpu_rtx_6000: .*no CUDA driver"):
        choose_image(AI_OFF, REQ, RTX, IMAGES, pinned="CC-Ubuntu22.04")
    with pytest.raises(InputError, match="built for aarch64"):
        choose_image(AI_OFF, REQ, node("compute_skylake"), IMAGES, pinned="CC-Ubuntu24.04-ARM64")


# --- AI stages -----------------------------------------------------------------------------------

def test_shortlist_naming_images_not_in_the_catalog_is_rejected() -> None:
    with pytest.raises(ValueError, match=re.escape("not in the catalog: CC-Ubuntu22.04-CUDA12, CC-Fake")):
        choose_image(StubAI(image_shortlist=shortlist("CC-Ubuntu24.04-CUDA", "CC-Ubuntu22.04-CUDA12", "CC-Fake")),
                     REQ, RTX, IMAGES)


def test_shortlist_with_no_image_fitting_the_node_is_rejected() -> None:
    with pytest.raises(ValueError, match="none of the shortlisted images fits"):
        choose_image(StubAI(image_shortlist=shortlist("CC-Ubuntu22.04", "CC-Ubuntu24.04-ROCm")),
                     REQ, RTX, IMAGES)


def test_shortlist_drops_misfits_and_the_pick_sees_only_fitting_images() -> None:
    ai = StubAI(image_shortlist=shortlist("CC-Ubuntu22.04", "CC-Ubuntu22.04-CUDA", "CC-Ubuntu24.04-CUDA"),
                image_pick=pick("CC-Ubuntu22.04-CUDA", "r" * 300))
    choice = choose_image(ai, REQ, RTX, IMAGES)
    assert [r["name"] for r in ai.data["image_pick"]["shortlist"]] == ["CC-Ubuntu22.04-CUDA", "CC-Ubuntu24.04-CUDA"]
    assert (choice.image.name, choice.decided_by, len(choice.reason)) == ("CC-Ubuntu22.04-CUDA", "ai", 200)


def test_shortlist_stage_is_shown_only_images_that_fit_the_node() -> None:
    ai = StubAI()
    choose_image(ai, REQ, node("gpu_mi100", TACC), IMAGES)
    assert [r["name"] for r in ai.data["image_shortlist"]["catalog"]] == ["CC-Ubuntu24.04-ROCm"]


def test_pick_not_on_the_shortlist_is_rejected_even_if_it_fits() -> None:
    ai = StubAI(image_shortlist=shortlist("CC-Ubuntu22.04-CUDA"), image_pick=pick("CC-Ubuntu24.04-CUDA"))
    with pytest.raises(ValueError, match=re.escape("'CC-Ubuntu24.04-CUDA' is not on the shortlist")):
        choose_image(ai, REQ, RTX, IMAGES)


def test_failed_shortlist_uses_the_rules_shortlist_for_the_pick() -> None:
    ai = StubAI(image_pick=pick("CC-Ubuntu22.04-CUDA"))
    choice = choose_image(ai, REQ, RTX, IMAGES)
    assert choice.decided_by == "ai"
    names = [r["name"] for r in ai.data["image_pick"]["shortlist"]]
    assert names[0] == "CC-Ubuntu22.04-CUDA" and all(n.endswith("-CUDA") for n in names)


def test_failed_pick_falls_back_to_rules_and_notes_the_ai_failure() -> None:
    choice = choose_image(StubAI(), REQ, RTX, IMAGES)
    assert choice.decided_by == "rules" and choice.image.name == "CC-Ubuntu22.04-CUDA"
    assert choice.reason.endswith("(AI: image_pick failed)")


# --- rules ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("node_type", "site", "expected"), [
    ("gpu_rtx_6000", UC, "CC-Ubuntu24.04-CUDA: CUDA image for the node's NVIDIA GPU"),
    ("gpu_mi100", TACC, "CC-Ubuntu24.04-ROCm: ROCm image for the node's AMD GPU"),
    ("compute_arm64", TACC, "CC-Ubuntu24.04-ARM64: ARM64 image for an aarch64 node"),
    ("compute_skylake", UC, "CC-Ubuntu26.04: plain image for a CPU node"),
])
def test_rules_reason_names_the_image_and_why_it_suits_the_node(node_type: str, site: str, expected: str) -> None:
    for catalog in (images(), images(with_properties=True)):
        choice = choose_image(AI_OFF, Requirements(), node(node_type, site), catalog)
        assert (choice.decided_by, choice.reason) == ("rules", expected)
