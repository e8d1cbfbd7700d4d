"""One labelled repository through the rules, judged against its labels (used by analysis_accuracy.py).

The verdict helpers live in tests/catalog.py so the corpus tests and this benchmark judge alike:
`judge` (node class within the labelled range, GPU vendor), `memory_verdict`, `special_misses` and
`image_problem`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from catalog import image_problem, judge, memory_verdict, special_misses, special_needs

from chameleon_provision.decisions.hardware_rules import describe_need, rules_choice
from chameleon_provision.decisions.image_rules import rules_image
from chameleon_provision.errors import ProvisionError
from chameleon_provision.models import ImageRecord, NodeRecord
from chameleon_provision.repo_analyzer import analyze


@dataclass
class Verdict:
    name: str  # "dev/<owner>__<name>" or "<owner>__<name>"
    labels: dict
    need: str = ""  # the analysis' need, as the rules describe it
    reason: str = ""
    evidence: list[str] = field(default_factory=list)
    node: NodeRecord | None = None
    refusal: str = ""  # why no node was chosen
    cls: str = "-"
    class_ok: bool = False
    vendor_ok: bool = False
    image: str = "-"
    image_ok: bool | None = None  # None: no plan, nothing to boot
    image_why: str = ""
    memory_ok: bool | None = None  # None: no floor applies
    special: dict[str, object] = field(default_factory=dict)
    special_missed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def right(self) -> bool:
        return self.class_ok and self.vendor_ok

    def problems(self) -> list[str]:
        """Every way this plan misses its labels, one line each."""
        lab = self.labels
        wanted = f"{lab['node_class']}..{lab['full_scale_node_class']} {lab['gpu_vendor']}"
        where = f"{self.node.node_type}@{self.node.site} ({self.cls})" if self.node else f"no node ({self.refusal})"
        out = []
        if not self.class_ok:
            out.append(f"class: expected {'infeasible' if lab.get('infeasible') else wanted}, chose {where}")
        elif not self.vendor_ok:
            out.append(f"vendor: expected {lab['gpu_vendor']}, chose {where} ({self.node and self.node.gpu_vendor})")
        if self.image_ok is False:
            out.append(f"image: {self.image_why}")
        if self.memory_ok is False:
            scope = "in total" if lab["node_class"] == "multi-gpu" else "per GPU"
            have = (f"{self.node.gpu_count}x {self.node.gpu_memory_gb} GB" if self.node else "nothing")
            out.append(f"memory: floor {lab['min_gpu_memory_gb']} GB {scope}, chose {have}")
        out += [f"special: {m}" for m in self.special_missed]
        return out


def corpus_repos(folders: Sequence[tuple[str, Path]]) -> list[tuple[str, Path]]:
    """(display name, folder) for every labelled repository under the given (prefix, folder) pairs."""
    out = []
    for prefix, folder in folders:
        if folder.is_dir():
            out += [(prefix + p.name, p) for p in sorted(folder.iterdir()) if (p / "labels.json").is_file()]
    return out


def evaluate(name: str, repo: Path, catalog: list[NodeRecord], site: str,
             images_for: Callable[[str], list[ImageRecord]]) -> Verdict:
    """Analyse repo/files by rules, choose a node and an image, and judge all three against the labels."""
    labels = json.loads((repo / "labels.json").read_text())["labels"]
    v = Verdict(name, labels, special=special_needs(labels))
    start = time.perf_counter()
    analysis = analyze(repo / "files")
    v.seconds = time.perf_counter() - start
    req = analysis.requirements
    v.need, v.reason = describe_need(req), req.reason
    v.evidence = [f"{e.file}:{e.line} [{e.signal}] {e.text.strip()[:110]}" for e in req.evidence]
    try:
        v.node = rules_choice(req, catalog, preferred_site=site).hardware
    except ProvisionError as exc:
        v.refusal = str(exc)
    if v.node is None:
        v.class_ok = v.vendor_ok = bool(labels.get("infeasible"))
    elif labels.get("infeasible"):
        v.cls = judge(labels, v.node, catalog)[2]
    else:
        v.class_ok, v.vendor_ok, v.cls = judge(labels, v.node, catalog)
    if v.node is not None:
        images = images_for(v.node.site)
        try:
            image = rules_image(req, v.node, images)
            v.image, v.image_why = image.name, image_problem(image, v.node) or ""
            v.image_ok = not v.image_why
        except ProvisionError as exc:
            v.image, v.image_ok, v.image_why = "(none)", False, str(exc)
    v.memory_ok = memory_verdict(labels, v.node)
    v.special_missed = special_misses(labels, v.node)
    return v
