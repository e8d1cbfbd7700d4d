"""Rules-only accuracy on the labelled corpus: does each plan honour what the repository needs?

    python benchmarks/analysis_accuracy.py [--corpus PATH ...] [--site CHI@UC] [--catalog auto|twin|samples|hand]

The corpus is ../shared/corpus/dev (when present, shown as dev/...) plus tests/corpus. For every
repository: the labelled range and vendor, the node the rules choose (type, site, class), whether the
class lies within [node_class, full_scale_node_class] with the right GPU vendor, the image and whether
its architecture and stack (CUDA/ROCm/plain) fit the node, the stated GPU memory floor, the special
hardware (FPGA, CPU architecture, local NVMe, RDMA, compute capability), and the analysis time. Every
miss is then listed with the evidence the analysis used, and the last lines count what was right.
Then the special-hardware fixtures (tests/fixtures/repos/hw_*): FPGA, ARM64, NVMe, InfiniBand, NVDIMM
and GPU-generation repositories must land on hardware that has it, and a need no site meets must be
refused. No AI is involved. The node catalog comes from the digital twin's inventory when it exists, else from
the reference-repository samples in ../shared, else from the hand-built catalog in tests/catalog.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from catalog import images  # noqa: E402
from catalog import nodes as hand_nodes  # noqa: E402
from corpus_eval import Verdict, corpus_repos, evaluate  # noqa: E402

from chameleon_provision.decisions.hardware_rules import rules_choice  # noqa: E402
from chameleon_provision.decisions.image_rules import rules_image  # noqa: E402
from chameleon_provision.errors import NoMatchError  # noqa: E402
from chameleon_provision.models import ImageRecord, NodeRecord  # noqa: E402
from chameleon_provision.repo_analyzer import analyze  # noqa: E402

SITES = {"uc": "CHI@UC", "tacc": "CHI@TACC"}


def load_catalog(kind: str, shared: Path) -> tuple[list[NodeRecord], str]:
    if kind in ("auto", "twin"):
        try:
            from chameleon_provision.cloud.resource_discovery import parse_node
            from chameleon_twin.inventory import node_records  # type: ignore[import-not-found]

            found = [parse_node(r, region) for uid, region in SITES.items() for r in node_records(uid)]
            if found:
                return found, "twin inventory"
        except ImportError:
            if kind == "twin":
                raise
    if kind in ("auto", "samples"):
        samples = shared / "chameleon-samples"
        files = {uid: samples / f"refapi_nodes_{uid}_collection.json" for uid in SITES}
        if all(f.is_file() for f in files.values()):
            from chameleon_provision.cloud.resource_discovery import parse_node

            found = [parse_node(item, SITES[uid]) for uid, f in files.items()
                     for item in json.loads(f.read_text())["items"]]
            return found, "reference-repository samples"
        if kind == "samples":
            raise SystemExit(f"no samples under {samples}")
    return hand_nodes(), "hand-built catalog (tests/catalog.py)"


def load_images(site: str) -> list[ImageRecord]:
    """The site's Glance catalog from the twin when it exists, else the §4 list in tests/catalog.py."""
    try:
        from chameleon_twin.images import site_images
    except ImportError:
        return images()
    uid = next(u for u, region in SITES.items() if region == site)
    return [ImageRecord(id=r["id"], name=r["name"], status=r.get("status", "active"),
                        architecture=r.get("architecture", "x86_64"), build_os=r.get("build-os", ""),
                        build_variant=r.get("build-variant", "")) for r in site_images(uid)] or images()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--corpus", type=Path, action="append",
                        help="a folder of labelled repositories (repeatable); default: the dev set and tests/corpus")
    parser.add_argument("--site", default="CHI@UC", help="preferred site on ties")
    parser.add_argument("--catalog", choices=("auto", "twin", "samples", "hand"), default="auto")
    parser.add_argument("--no-scale", action="store_true", help="skip the 20k-file synthetic repository timing")
    args = parser.parse_args(argv)
    shared = ROOT.parent / "shared"
    folders = ([("", c) for c in args.corpus] if args.corpus
               else [("dev/", shared / "corpus" / "dev"), ("", ROOT / "tests" / "corpus")])
    repos = corpus_repos(folders)
    if not repos:
        print(f"no labelled repositories under {', '.join(str(f) for _, f in folders)}", file=sys.stderr)
        return 2
    catalog, source = load_catalog(args.catalog, shared)
    print(f"catalog: {source}, {len(catalog)} nodes; preferred site {args.site}; rules only\n")
    header = (f"{'repository':46} {'labelled range':22} {'vendor':7} {'chosen node':34} {'class':14} {'vendor':6} "
              f"{'image':22} {'mem':4} {'special':7} {'time':>7}")
    print(header)
    print("-" * len(header))
    image_cache: dict[str, list[ImageRecord]] = {}

    def images_for(site: str) -> list[ImageRecord]:
        return image_cache.setdefault(site, load_images(site))

    verdicts = [evaluate(name, path, catalog, args.site, images_for) for name, path in repos]
    for v in verdicts:
        print(_row(v))
    _print_misses(verdicts)
    _print_heavier(verdicts)
    total = sum(v.seconds for v in verdicts)
    print(f"\nanalysis time: {total * 1000:.1f} ms total, {total * 1000 / len(verdicts):.1f} ms per repository")
    fixtures_right = special_fixtures(catalog, args.site)
    if not args.no_scale:
        scale_timing()
    return max(_summary(verdicts), 0 if fixtures_right else 1)


# fixture -> (what it needs, the check the chosen node and image must pass; None = must be refused)
SPECIAL: dict[str, tuple[str, Any]] = {
    "hw_vitis": ("Xilinx FPGA", lambda n, i: n.fpga.startswith("Xilinx")),
    "hw_arm_neon": ("aarch64", lambda n, i: n.arch == "aarch64" and "ARM64" in i.name),
    "hw_spdk": ("2 spare NVMe", lambda n, i: n.nvme_spare >= 2),
    "hw_rdma": ("InfiniBand", lambda n, i: n.infiniband),
    "hw_cc80": ("compute capability 8.0", lambda n, i: (n.gpu_compute_capability or 0) >= 8.0 and "CUDA" in i.name),
    "hw_pmem_1tb": ("NVDIMM, 1 TB", lambda n, i: n.nvdimm and n.ram_gb >= 1000),
    "hw_blackwell": ("compute capability 10.0", None),
}


def special_fixtures(catalog: list[NodeRecord], site: str) -> bool:
    print(f"\n{'special-hardware fixture':26} {'needs':24} {'chosen node':36} {'image':22} result")
    good = 0
    for name, (need, check) in SPECIAL.items():
        req = analyze(ROOT / "tests" / "fixtures" / "repos" / name).requirements
        try:
            node = rules_choice(req, catalog, preferred_site=site).hardware
        except NoMatchError as exc:
            ok = check is None
            print(f"{name:26} {need:24} {'(refused)':36} {'':22} {'ok' if ok else 'WRONG'}: {str(exc)[:60]}")
            good += ok
            continue
        image = rules_image(req, node, load_images(node.site))
        ok = check is not None and bool(check(node, image))
        good += ok
        print(f"{name:26} {need:24} {node.node_type + '@' + node.site:36} {image.name:22} {'ok' if ok else 'WRONG'}")
    print(f"{good}/{len(SPECIAL)} special-hardware fixtures on hardware that has it (or refused when none has)")
    return good == len(SPECIAL)


def _mark(ok: bool | None) -> str:
    return "-" if ok is None else "ok" if ok else "NO"


def _row(v: Verdict) -> str:
    lab = v.labels
    chosen = f"{v.node.node_type}@{v.node.site}" if v.node else "(none: infeasible)"
    span = "infeasible" if lab.get("infeasible") else f"{lab['node_class']}..{lab['full_scale_node_class']}"
    special = "-" if not v.special else _mark(not v.special_missed)
    return (f"{v.name[:46]:46} {span:22} {lab['gpu_vendor']:7} {chosen[:34]:34} "
            f"{v.cls + ' ' + ('ok' if v.class_ok else 'OUT'):14} {_mark(v.vendor_ok):6} {v.image[:22]:22} "
            f"{_mark(v.memory_ok):4} {special:7} {v.seconds * 1000:6.1f}ms")


def _print_misses(verdicts: list[Verdict]) -> None:
    missed = [v for v in verdicts if v.problems()]
    print(f"\nmisses: {len(missed)} repositories")
    for v in missed:
        print(f"\n* {v.name}: analysis says {v.need}")
        for line in v.problems():
            print(f"    {line}")
        if v.reason:
            print(f"    reason: {v.reason[:300]}")
        for line in v.evidence[:10] or ["(no evidence)"]:
            print(f"    evidence {line}")
        if len(v.evidence) > 10:
            print(f"    ... {len(v.evidence) - 10} more evidence lines")


def _print_heavier(verdicts: list[Verdict]) -> None:
    """Plans inside the labelled range but above its lower end: not misses, but more SUs than needed."""
    from catalog import CLASS_ORDER

    heavier = [v for v in verdicts if v.right and v.node and v.cls in CLASS_ORDER
               and CLASS_ORDER.index(v.cls) > CLASS_ORDER.index(v.labels["node_class"])]
    if heavier:
        print(f"\nwithin range but above node_class: {len(heavier)} repositories")
    for v in heavier:
        print(f"  {v.name}: labelled {v.labels['node_class']} ({v.labels['gpu_required']} GPU), chose "
              f"{v.cls}; analysis says {v.need}")


def _summary(verdicts: list[Verdict]) -> int:
    """The closing counts; exit 0 only when every repository is right on every count."""
    right = sum(v.right for v in verdicts)
    imaged = [v for v in verdicts if v.image_ok is not None]
    floors = [v for v in verdicts if v.memory_ok is not None]
    special = [v for v in verdicts if v.special]
    counts = [(right, len(verdicts)), (sum(bool(v.image_ok) for v in imaged), len(imaged)),
              (sum(bool(v.memory_ok) for v in floors), len(floors)),
              (sum(not v.special_missed for v in special), len(special))]
    print(f"\n{counts[0][0]}/{counts[0][1]} right on node class and vendor")
    print(f"images matching arch and vendor: {counts[1][0]}/{counts[1][1]}")
    print(f"memory floors honoured: {counts[2][0]}/{counts[2][1]}")
    print(f"special hardware (FPGA, CPU arch, local NVMe, RDMA, compute capability) honoured: "
          f"{counts[3][0]}/{counts[3][1]}")
    return 0 if all(n == m for n, m in counts) else 1


def scale_timing() -> None:
    """Time the analysis of a generated ~20k-file repository (the test asserts bounds, this measures)."""
    from test_repo_analyzer_scale import build_big_repo

    with tempfile.TemporaryDirectory() as tmp:
        made = build_big_repo(Path(tmp))
        start = time.perf_counter()
        analysis = analyze(Path(tmp))
        elapsed = time.perf_counter() - start
    print(f"synthetic repository: {made} files, analysed in {elapsed:.2f} s "
          f"({analysis.entries_visited} entries visited, {analysis.files_scanned} files and "
          f"{analysis.bytes_read} bytes read)")


if __name__ == "__main__":
    sys.exit(main())
