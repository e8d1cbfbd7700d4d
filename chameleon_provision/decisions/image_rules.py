"""Image choice by rules: the variant the node's hardware needs, then the Ubuntu release the repo allows.

Variant and OS come from the image's Glance properties (build-variant, build-os) when present and
from Chameleon's naming (CC-Ubuntu22.04-CUDA, -ROCm, -ARM64, CC-Centos9-Stream) otherwise, so the
rules work on catalogs with or without properties. An NVIDIA node boots a CUDA image, an AMD node
a ROCm image, an aarch64 node an ARM64 image, and anything else a plain one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from chameleon_provision.errors import NoMatchError
from chameleon_provision.models import ImageRecord, NodeRecord, Requirements

log = logging.getLogger(__name__)

_NAME = re.compile(r"^CC-(?P<distro>Ubuntu|CentOS|Rocky|Debian)(?P<version>\d+(?:\.\d+)?)"
                   r"(?P<rest>(?:-[\w.]+)*)$", re.I)
_CODENAMES = {"bionic": "18.04", "focal": "20.04", "jammy": "22.04", "noble": "24.04", "resolute": "26.04"}
_VARIANTS = {"gpu": "cuda", "cuda": "cuda", "nvidia": "cuda", "rocm": "rocm", "amd": "rocm", "base": "base",
             "arm64": "base", "aarch64": "base", "vgpu": "vgpu", "fpga": "fpga"}
# Newest Ubuntu each CUDA toolkit line supports: CUDA 11 and early 12 predate 24.04.
_CUDA_MAX_UBUNTU = ((10, 99, 20.04), (11, 99, 22.04), (12, 3, 22.04))


@dataclass(frozen=True)
class ImageInfo:
    distro: str  # ubuntu | centos | ...
    version: float  # 22.04 -> 22.04, 9 -> 9.0; 0 when unknown
    variant: str  # base | cuda | rocm | vgpu | fpga | unknown
    arch: str  # x86_64 | aarch64
    supported: bool  # a Chameleon CC- image
    dated: bool  # an older snapshot such as CC-Ubuntu22.04-20230601


def info(image: ImageRecord) -> ImageInfo:
    """The one reading of an image: Glance properties where the listing carried them, else its name."""
    props = dict(image.properties)
    name = image.name.strip()
    lower = name.lower()
    m = _NAME.match(name)
    rest = (m.group("rest") if m else "").lower()
    name_variant = ("vgpu" if "vgpu" in lower else "cuda" if "cuda" in lower else "rocm" if "rocm" in lower
                    else "fpga" if "fpga" in lower else "base" if m else "unknown")
    prop_variant = _VARIANTS.get((image.build_variant or props.get("build-variant", "")).lower())
    variant = name_variant if name_variant in ("vgpu",) else (prop_variant or name_variant)
    arch = (image.architecture or props.get("architecture") or "").lower()
    arm = "arm64" in lower or "aarch64" in lower or arch in ("arm64", "aarch64")
    arch = "aarch64" if arm else "x86_64"
    distro, version = "", 0.0
    os_text = (image.build_os or props.get("build-os", "")).lower()
    if m:
        distro, version = m.group("distro").lower(), float(m.group("version"))
    elif code := next((v for k, v in _CODENAMES.items() if k in os_text), None):
        distro, version = "ubuntu", float(code)
    elif v := (re.search(r"(ubuntu|centos|rocky)[-_ ]?(\d+(?:\.\d+)?)", os_text)
               or re.search(r"(ubuntu|centos|rocky)[-_ ]?(\d\d\.?\d\d|\d+)", lower)):
        distro, version = v.group(1), float(v.group(2) if "." in v.group(2) or len(v.group(2)) < 4
                                             else f"{v.group(2)[:2]}.{v.group(2)[2:]}")
    return ImageInfo(distro, version, variant, arch, bool(m), bool(re.search(r"-\d{6,8}\b", rest)))


def _needed_variant(node: NodeRecord) -> str:
    if node.gpu_count > 0 and node.gpu_vendor == "nvidia":
        return "cuda"
    if node.gpu_count > 0 and node.gpu_vendor == "amd":
        return "rocm"
    return "base"


def image_fits(image: ImageRecord, node: NodeRecord) -> str | None:
    """None if the image can boot the node with its accelerator usable, else why not (one line)."""
    i = info(image)
    if image.status and image.status.lower() != "active":
        return f"{image.name} is {image.status}, not active"
    if i.arch != node.arch:
        return f"{image.name} is built for {i.arch}, the node is {node.arch}"
    if i.variant in ("vgpu", "fpga"):
        return f"{image.name} is a {i.variant} image, not for this bare-metal node"
    needed = _needed_variant(node)
    if i.variant == "unknown":
        return None if needed == "base" else f"{image.name} is not a known {needed.upper()} image"
    if needed == "cuda" and i.variant != "cuda":
        return f"{image.name} has no CUDA driver; the node's NVIDIA GPU needs a -CUDA image"
    if needed == "rocm" and i.variant != "rocm":
        return f"{image.name} has no ROCm stack; the node's AMD GPU needs a -ROCm image"
    if needed == "base" and i.variant != "base":
        return f"{image.name} is a {i.variant.upper()} image; the node has no matching GPU"
    return None


def _wanted_os(req: Requirements) -> tuple[str, float | None]:
    m = re.match(r"^\s*(ubuntu|centos|rocky|debian)[-_ ]?(\d+(?:\.\d+)?)?", (req.os or "").lower())
    if not m:
        return "ubuntu", None
    return m.group(1), float(m.group(2)) if m.group(2) else None


def _max_ubuntu(cuda: str | None) -> float | None:
    m = re.match(r"^(\d+)(?:\.(\d+))?", cuda or "")
    if not m:
        return None
    major, minor = int(m.group(1)), int(m.group(2) or 0)
    return next((limit for mj, mn, limit in _CUDA_MAX_UBUNTU if major < mj or (major == mj and minor <= mn)), None)


def _preference(req: Requirements, image: ImageRecord) -> tuple[object, ...]:
    i = info(image)
    distro, exact = _wanted_os(req)
    limit = _max_ubuntu(req.cuda) if i.variant == "cuda" else None
    return (
        0 if i.distro == distro else 1,
        0 if exact is None or i.version == exact else 1,  # the stated release first
        0 if limit is None or i.version <= limit else 1,  # CUDA 11.x: a 20.04/22.04 image first
        abs(i.version - exact) if exact is not None else 0.0,
        0 if i.supported else 1,
        1 if i.dated else 0,
        -i.version,  # otherwise the newest release
        image.name,
    )


def image_shortlist(req: Requirements, node: NodeRecord, images: Sequence[ImageRecord],
                    limit: int = 5) -> list[ImageRecord]:
    fitting = [i for i in images if image_fits(i, node) is None]
    return sorted(fitting, key=lambda i: _preference(req, i))[:limit]


def rules_image(req: Requirements, node: NodeRecord, images: Sequence[ImageRecord]) -> ImageRecord:
    shortlist = image_shortlist(req, node, images, limit=1)
    if not shortlist:
        needed = _needed_variant(node)
        raise NoMatchError(f"no image at {node.site} fits {node.node_type} ({node.arch}, "
                           f"{'plain' if needed == 'base' else needed.upper()} variant needed)",
                           hint="`openstack image list` shows what the site offers")
    chosen = shortlist[0]
    distro, exact = _wanted_os(req)
    got = info(chosen)
    if exact is not None and (got.distro != distro or got.version != exact):
        log.warning("no %s%s image fits %s; using %s", distro, exact, node.node_type, chosen.name)
    return chosen
