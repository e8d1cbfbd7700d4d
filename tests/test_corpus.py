"""Rules only, on the real-repository development corpus: every plan must land in the labelled range.

For each repository in ../shared/corpus/dev the files/ folder is analysed without AI, the rules rank
the UC + TACC catalog, and the chosen node must lie within [node_class, full_scale_node_class] with
the right GPU vendor, booting an image that fits its architecture and GPU.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from catalog import images, judge, nodes

from chameleon_provision.decisions.hardware_rules import rules_choice
from chameleon_provision.decisions.image_rules import image_fits, info, rules_image
from chameleon_provision.repo_analyzer import analyze

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CORPUS = SHARED / "corpus" / "dev"
REPOS = sorted(p.name for p in CORPUS.iterdir() if (p / "labels.json").is_file()) if CORPUS.is_dir() else []
CATALOG = nodes()


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus/dev is not present")
@pytest.mark.parametrize("name", REPOS or ["(none)"])
def test_plan_within_labelled_range(name: str) -> None:
    if not REPOS:
        pytest.skip("no labelled repositories in the corpus")
    repo = CORPUS / name
    labels = json.loads((repo / "labels.json").read_text())["labels"]
    analysis = analyze(repo / "files")
    req = analysis.requirements
    assert req.decided_by == "rules" and req.reason
    assert req.evidence, "a decision must carry its evidence"
    node = rules_choice(req, CATALOG, preferred_site="CHI@UC").hardware
    in_range, vendor_ok, cls = judge(labels, node, CATALOG)
    where = f"{node.node_type}@{node.site} ({cls}) for {labels['node_class']}..{labels['full_scale_node_class']}"
    assert in_range, f"{where}; requirements: {req.gpu}; {req.reason}"
    assert vendor_ok, f"{where}: GPU vendor {node.gpu_vendor}, labelled {labels['gpu_vendor']}"
    image = rules_image(req, node, images())
    assert image_fits(image, node) is None and info(image).arch == node.arch
    if labels.get("cuda") and req.cuda:
        assert req.cuda.split(".")[0] == labels["cuda"].split(".")[0]
