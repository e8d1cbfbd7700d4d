"""Image choice by rules: the variant the node needs, then the Ubuntu release the repository allows."""

from __future__ import annotations

import pytest
from catalog import TACC, UC, images, nodes

from chameleon_provision.decisions.image_rules import image_fits, image_shortlist, info, rules_image
from chameleon_provision.errors import NoMatchError
from chameleon_provision.models import GpuNeed, ImageRecord, Requirements

CATALOG = nodes()
RTX = next(n for n in CATALOG if n.node_type == "gpu_rtx_6000")
MI100 = next(n for n in CATALOG if n.node_type == "gpu_mi100")
ARM = next(n for n in CATALOG if n.node_type == "compute_arm64")
CPU = next(n for n in CATALOG if n.node_type == "compute_skylake" and n.site == UC)
PVC = next(n for n in CATALOG if n.node_type == "gpu_pontevecchio" and n.site == TACC)


def by_name(name: str, **kw: object) -> ImageRecord:
    return ImageRecord(id=name, name=name, **kw)  # type: ignore[arg-type]


def req(os: str | None = None, cuda: str | None = None) -> Requirements:
    return Requirements(gpu=GpuNeed("yes", 1, None, "nvidia"), os=os, cuda=cuda)


@pytest.mark.parametrize("with_properties", [False, True])
def test_variant_per_node(with_properties: bool) -> None:
    catalog = images(with_properties=with_properties)
    assert rules_image(Requirements(), CPU, catalog).name == "CC-Ubuntu26.04"
    assert rules_image(req(), RTX, catalog).name == "CC-Ubuntu24.04-CUDA"
    assert rules_image(Requirements(), MI100, catalog).name == "CC-Ubuntu24.04-ROCm"
    assert rules_image(Requirements(), ARM, catalog).name == "CC-Ubuntu24.04-ARM64"
    assert rules_image(Requirements(), PVC, catalog).name == "CC-Ubuntu26.04"  # no Intel variant: plain


def test_image_fits_reasons() -> None:
    assert image_fits(by_name("CC-Ubuntu22.04-CUDA"), RTX) is None
    assert "needs a -CUDA image" in image_fits(by_name("CC-Ubuntu22.04"), RTX)
    assert "needs a -ROCm image" in image_fits(by_name("CC-Ubuntu24.04-CUDA"), MI100)
    assert "no matching GPU" in image_fits(by_name("CC-Ubuntu24.04-CUDA"), CPU)
    assert "built for aarch64" in image_fits(by_name("CC-Ubuntu24.04-ARM64"), CPU)
    assert "built for x86_64" in image_fits(by_name("CC-Ubuntu24.04"), ARM)
    assert "vgpu" in image_fits(by_name("CC-Ubuntu24.04-CUDA-VGPU"), RTX)
    assert "not active" in image_fits(by_name("CC-Ubuntu24.04", status="queued"), CPU)
    assert image_fits(by_name("my-own-image"), CPU) is None
    assert "not a known CUDA image" in image_fits(by_name("my-own-image"), RTX)


def test_properties_win_over_plain_names() -> None:
    custom = by_name("team-gpu-image", build_variant="gpu", build_os="ubuntu-jammy")
    assert image_fits(custom, RTX) is None
    i = info(custom)
    assert (i.variant, i.distro, i.version) == ("cuda", "ubuntu", 22.04)
    arm = by_name("arm-image", architecture="aarch64")
    assert image_fits(arm, ARM) is None and image_fits(arm, CPU) is not None


def test_stated_os_and_cuda() -> None:
    catalog = images()
    assert rules_image(req(os="ubuntu20.04"), RTX, catalog).name == "CC-Ubuntu20.04-CUDA"
    assert rules_image(req(os="ubuntu22.04"), RTX, catalog).name == "CC-Ubuntu22.04-CUDA"
    assert rules_image(req(cuda="11.8"), RTX, catalog).name == "CC-Ubuntu22.04-CUDA"  # CUDA 11 predates 24.04
    assert rules_image(req(cuda="12.6"), RTX, catalog).name == "CC-Ubuntu24.04-CUDA"
    assert rules_image(req(cuda="10.2"), RTX, catalog).name == "CC-Ubuntu20.04-CUDA"
    centos = Requirements(os="centos9")
    assert rules_image(centos, CPU, catalog).name == "CC-Centos9-Stream"


def test_missing_release_falls_back_to_nearest(caplog: pytest.LogCaptureFixture) -> None:
    catalog = images(names=("CC-Ubuntu22.04-CUDA", "CC-Ubuntu24.04-CUDA"))
    assert rules_image(req(os="ubuntu18.04"), RTX, catalog).name == "CC-Ubuntu22.04-CUDA"
    assert "no ubuntu18.04 image" in caplog.text


def test_dated_snapshots_and_non_cc_images_rank_lower() -> None:
    catalog = [by_name("CC-Ubuntu22.04-CUDA-20230601"), by_name("CC-Ubuntu22.04-CUDA"),
               by_name("gpu-image", build_variant="gpu", build_os="ubuntu-noble")]
    shortlist = image_shortlist(req(os="ubuntu22.04"), RTX, catalog)
    assert [i.name for i in shortlist] == ["CC-Ubuntu22.04-CUDA", "CC-Ubuntu22.04-CUDA-20230601", "gpu-image"]


def test_shortlist_limit_and_fit() -> None:
    shortlist = image_shortlist(Requirements(), CPU, images(), limit=3)
    assert [i.name for i in shortlist] == ["CC-Ubuntu26.04", "CC-Ubuntu24.04", "CC-Ubuntu22.04"]
    assert all(image_fits(i, RTX) is None for i in image_shortlist(req(), RTX, images(), limit=10))


def test_no_fitting_image() -> None:
    with pytest.raises(NoMatchError, match="ROCM variant needed"):
        rules_image(Requirements(), MI100, images(names=("CC-Ubuntu24.04", "CC-Ubuntu24.04-CUDA")))
