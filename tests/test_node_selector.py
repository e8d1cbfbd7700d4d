"""Decision 3: node-type pins, the node choice (rules and a stub AI), and the Blazar filter check."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from catalog import TACC, UC, nodes

from chameleon_provision.ai_client import AIClient, AIOutcome, AISettings
from chameleon_provision.decisions.hardware_rules import rank_candidates, resource_properties_valid
from chameleon_provision.decisions.node_selector import NodeAnswer, choose_node, pinned_candidates
from chameleon_provision.errors import InputError, NoMatchError
from chameleon_provision.models import GpuNeed, Requirements

CATALOG = nodes()
NVIDIA = Requirements(gpu=GpuNeed("yes", 1, None, "nvidia"))
CANDIDATES = rank_candidates(NVIDIA, CATALOG, preferred_site=UC)
V100 = {n.node_name: n for n in CATALOG if n.site == UC and n.node_type == "gpu_v100"}
V100_SXM2 = ["==", "$node_name", next(k for k, n in V100.items() if "SXM2" in n.gpu_model)]
V100_PCIE = ["==", "$node_name", next(k for k, n in V100.items() if "PCIe" in n.gpu_model)]


class StubAI:
    """An AIClient stand-in whose `decide` runs the caller's `validate` on a prepared answer."""

    def __init__(self, answer: NodeAnswer | None = None, note: str = "") -> None:
        self.answer, self.note, self.enabled = answer, note, True
        self.data: dict[str, Any] = {}

    def decide(self, name: str, *, instructions: str, data: dict[str, Any], answer: type,
               validate: Callable[[Any], Any]) -> AIOutcome[Any]:
        self.data = data
        if self.answer is None:
            return AIOutcome(None, False, 2, self.note)
        return AIOutcome(validate(self.answer), True, 1, "")


def answer(node_type: str, props: list[Any], site: str = UC, reason: str = "fits") -> NodeAnswer:
    return NodeAnswer(site=site, node_type=node_type, resource_properties=props, reason=reason)


def choose(ai: Any) -> tuple[Any, list[Any]]:
    return choose_node(ai, NVIDIA, CANDIDATES, CATALOG, UC)


# --- pinned_candidates ---------------------------------------------------------------------------

def test_pin_of_unknown_type_is_input_error_listing_known_types_at_the_site() -> None:
    with pytest.raises(InputError, match="'gpu_rtx_9000' does not exist at CHI@UC") as err:
        pinned_candidates(NVIDIA, CATALOG, "gpu_rtx_9000", UC)
    assert "gpu_rtx_6000" in (err.value.hint or "") and "gpu_mi100" not in (err.value.hint or "")


def test_pin_of_a_type_that_exists_only_at_another_site_is_refused() -> None:
    with pytest.raises(InputError, match="does not exist at CHI@UC"):
        pinned_candidates(NVIDIA, CATALOG, "gpu_mi100", UC)


def test_pin_that_cannot_meet_the_requirements_is_no_match_with_the_reason() -> None:
    with pytest.raises(NoMatchError, match="compute_skylake does not meet the requirements: no GPU"):
        pinned_candidates(NVIDIA, CATALOG, "compute_skylake", UC)


def test_adequate_pin_yields_only_that_type_with_each_hardware_variant() -> None:
    pinned = pinned_candidates(NVIDIA, CATALOG, "gpu_v100", UC)
    assert [list(c.resource_properties) for c in pinned] == [V100_SXM2, V100_PCIE]


def test_pin_without_a_site_takes_the_type_at_every_site() -> None:
    pinned = pinned_candidates(Requirements(), CATALOG, "compute_skylake", None)
    assert {c.site for c in pinned} == {UC, TACC}


# --- choose_node ---------------------------------------------------------------------------------

def test_ai_off_rules_pick_the_first_candidate_and_keep_the_order_for_failover() -> None:
    ai = AIClient(AISettings(api_key=None, base_url=None, mode="off"))
    choice, order = choose(ai)
    assert (choice.node_type, choice.decided_by) == ("gpu_rtx_6000", "rules")
    assert choice.reason == CANDIDATES[0].reason  # no "(AI: ...)" note when the AI is off
    assert order == CANDIDATES


def test_failed_ai_falls_back_to_rules_and_says_why() -> None:
    choice, _ = choose(StubAI(note="invalid answer twice: x"))
    assert choice.decided_by == "rules" and choice.reason.endswith(" (AI: invalid answer twice: x)")


def test_no_candidates_is_no_match() -> None:
    with pytest.raises(NoMatchError):
        choose_node(StubAI(), NVIDIA, [], CATALOG, UC)


def test_model_is_shown_at_most_fifteen_candidates() -> None:
    ai = StubAI()
    choose(ai)
    assert len(CANDIDATES) > 15 and len(ai.data["candidates"]) == 15
    assert ai.data["candidates"][0]["resource_properties"] == ["==", "$node_type", "gpu_rtx_6000"]


def test_ai_choice_moves_to_the_front_and_the_rest_keep_their_order() -> None:
    choice, order = choose(StubAI(answer("gpu_a100_pcie", ["==", "$node_type", "gpu_a100_pcie"], reason="x" * 300)))
    assert (choice.node_type, choice.decided_by, len(choice.reason)) == ("gpu_a100_pcie", "ai", 200)
    assert order[0].node_type == "gpu_a100_pcie"
    assert order[1:] == [c for c in CANDIDATES if c is not order[0]]


def test_answer_naming_a_non_candidate_is_rejected() -> None:
    with pytest.raises(ValueError, match="compute_skylake at CHI@UC is not one of the adequate candidates"):
        choose(StubAI(answer("compute_skylake", ["==", "$node_type", "compute_skylake"])))


def test_filter_selecting_other_hardware_than_the_candidate_is_rejected() -> None:
    with pytest.raises(ValueError, match="must select the candidate's hardware exactly as listed"):
        choose(StubAI(answer("gpu_rtx_6000", ["==", "$node_type", "gpu_a100_pcie"])))


def test_filter_admitting_two_gpu_models_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"rejected: .*admits hosts with different GPUs"):
        choose(StubAI(answer("gpu_v100", ["==", "$node_type", "gpu_v100"])))


def test_naming_a_node_of_the_wrong_variant_or_type_is_rejected() -> None:
    rtx = next(n.node_name for n in CATALOG if n.site == UC and n.node_type == "gpu_rtx_6000")
    with pytest.raises(ValueError, match="node_names"):
        choose(StubAI(answer("gpu_v100", ["==", "$node_name", rtx])))


def test_filter_with_an_unknown_key_is_rejected() -> None:
    props = ["and", ["==", "$node_type", "gpu_rtx_6000"], ["==", "$gpu.vendor", "nvidia"]]
    with pytest.raises(ValueError, match=r"property \$gpu.vendor is not one of"):
        choose(StubAI(answer("gpu_rtx_6000", props)))


def test_valid_variant_filter_picks_that_variant() -> None:
    choice, order = choose(StubAI(answer("gpu_v100", V100_PCIE)))
    assert choice.hardware.gpu_model == "GV100GL [Tesla V100 PCIe 32GB]" and choice.candidates == 1
    assert list(order[0].resource_properties) == V100_PCIE


# --- resource_properties_valid -------------------------------------------------------------------

@pytest.mark.parametrize(("props", "problem"), [
    ([], "non-empty JSON array"),
    ("gpu_rtx_6000", "non-empty JSON array"),
    (["and"], "at least one condition"),
    (["==", "$node_type"], "triple of strings"),
    (["==", "$gpu.gpu_count", 1], "triple of strings"),
    ([">=", "$node_type", "gpu_rtx_6000"], "operator '>=' is not allowed"),
    (["==", "$gpu.gpu_model", "TU102GL [Quadro RTX 6000/8000]"], "not one of $node_name, $node_type"),
    (["==", "$node_type", "gpu_mi100"], "no host at CHI@UC matches"),
])
def test_untrustworthy_filters_are_named(props: Any, problem: str) -> None:
    assert problem in (resource_properties_valid(props, CATALOG, UC) or "")


def test_single_equals_and_real_hosts_are_accepted() -> None:
    assert resource_properties_valid(["=", "$node_type", "gpu_rtx_6000"], CATALOG, UC) is None
    assert resource_properties_valid(V100_SXM2, CATALOG, UC) is None


# --- special hardware: the AI may only name nodes that have it -----------------------------------------

def _twin() -> list[Any]:
    from chameleon_provision.cloud.resource_discovery import parse_node
    from chameleon_twin import inventory

    return [parse_node(r, site) for site, uid in inventory.SITES.items() for r in inventory.node_records(uid)]


TWIN = _twin()
XILINX = Requirements(fpga="xilinx")
XILINX_CANDIDATES = rank_candidates(XILINX, TWIN, preferred_site=UC)


def test_ai_sees_the_special_hardware_of_each_candidate() -> None:
    ai = StubAI(note="x")
    choose_node(ai, XILINX, XILINX_CANDIDATES, TWIN, UC)
    rows = ai.data["candidates"]
    assert rows[0]["fpga"] == "Xilinx Alveo U280" and {"spare_nvme", "infiniband", "nvdimm"} <= set(rows[0])


def test_ai_naming_the_fpga_node_is_accepted_and_a_plain_node_of_its_type_is_not() -> None:
    u280 = XILINX_CANDIDATES[0].node_names[0]
    choice, _ = choose_node(StubAI(answer("compute_cascadelake_r", ["==", "$node_name", u280])), XILINX,
                            XILINX_CANDIDATES, TWIN, UC)
    assert choice.decided_by == "ai" and choice.hardware.fpga == "Xilinx Alveo U280"
    plain = next(n.node_name for n in TWIN if n.site == UC and n.node_type == "compute_cascadelake_r" and not n.fpga)
    for props in (["==", "$node_name", plain], ["==", "$node_type", "compute_cascadelake_r"]):
        with pytest.raises(ValueError, match="node_names"):
            choose_node(StubAI(answer("compute_cascadelake_r", props)), XILINX, XILINX_CANDIDATES, TWIN, UC)


def test_no_candidate_for_a_special_need_names_what_was_looked_for() -> None:
    need = Requirements(fpga="intel", arch="aarch64")
    with pytest.raises(NoMatchError, match=r"no aarch64 node with an Intel \(Altera\) FPGA at CHI@NCAR, CHI@TACC"):
        choose_node(StubAI(), need, [], TWIN, UC)
