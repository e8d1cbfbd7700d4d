"""Rules-only accuracy on the labelled corpus: is each plan within [node_class, full_scale_node_class]?

    python benchmarks/analysis_accuracy.py [--corpus PATH] [--site CHI@UC] [--catalog auto|twin|samples|hand]

For every repository: the labelled range and vendor, the node the rules choose (type, site, class),
whether the GPU vendor is right, the image, and the analysis time; then "N/M plans within range
with the right GPU vendor". Then the special-hardware fixtures (tests/fixtures/repos/hw_*): FPGA,
ARM64, NVMe, InfiniBand, NVDIMM and GPU-generation repositories must land on hardware that has it,
and a need no site meets must be refused. No AI is involved. The node catalog comes from the digital twin's
inventory when it exists, else from the reference-repository samples in ../shared, else from the
hand-built catalog in tests/catalog.py.
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

from catalog import images, judge  # noqa: E402
from catalog import nodes as hand_nodes  # noqa: E402

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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "dev")
    parser.add_argument("--site", default="CHI@UC", help="preferred site on ties")
    parser.add_argument("--catalog", choices=("auto", "twin", "samples", "hand"), default="auto")
    parser.add_argument("--no-scale", action="store_true", help="skip the 20k-file synthetic repository timing")
    args = parser.parse_args(argv)
    repos = sorted(p for p in args.corpus.iterdir() if (p / "labels.json").is_file()) if args.corpus.is_dir() else []
    if not repos:
        print(f"no labelled repositories under {args.corpus}", file=sys.stderr)
        return 2
    catalog, source = load_catalog(args.catalog, args.corpus.parents[1])
    print(f"catalog: {source}, {len(catalog)} nodes; preferred site {args.site}; rules only\n")
    header = f"{'repository':44} {'labelled range':22} {'vendor':7} {'chosen node':32} {'class':10} {'vendor':6} " \
             f"{'image':22} {'time':>7}"
    print(header)
    print("-" * len(header))
    good, total_time = 0, 0.0
    for repo in repos:
        labels = json.loads((repo / "labels.json").read_text())["labels"]
        start = time.perf_counter()
        analysis = analyze(repo / "files")
        elapsed = time.perf_counter() - start
        total_time += elapsed
        choice = rules_choice(analysis.requirements, catalog, preferred_site=args.site)
        node = choice.hardware
        in_range, vendor_ok, cls = judge(labels, node, catalog)
        image = rules_image(analysis.requirements, node, load_images(node.site))
        good += in_range and vendor_ok
        mark = "ok" if in_range else "OUT"
        print(f"{repo.name[:44]:44} {labels['node_class'] + '..' + labels['full_scale_node_class']:22} "
              f"{labels['gpu_vendor']:7} {node.node_type + '@' + node.site:32} {cls + ' ' + mark:10} "
              f"{'yes' if vendor_ok else 'NO':6} {image.name:22} {elapsed * 1000:6.1f}ms")
    print(f"\n{good}/{len(repos)} plans within [node_class, full_scale_node_class] with the right GPU vendor")
    print(f"analysis time: {total_time * 1000:.1f} ms total, {total_time * 1000 / len(repos):.1f} ms per repository")
    hardware_good, hardware_total = special_hardware(catalog, args.site)
    if not args.no_scale:
        scale_timing()
    return 0 if good == len(repos) and hardware_good == hardware_total else 1


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


def special_hardware(catalog: list[NodeRecord], site: str) -> tuple[int, int]:
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
    print(f"\n{good}/{len(SPECIAL)} special-hardware fixtures on hardware that has it (or refused when none has)")
    return good, len(SPECIAL)


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
