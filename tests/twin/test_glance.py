"""Glance: Chameleon's supported images per site, the filters the CLI relies on, the schema."""

from __future__ import annotations

import pytest

from chameleon_twin.glance import Glance
from chameleon_twin.http import Request
from chameleon_twin.images import BUILD_REPO, CATALOG, site_catalog

BASE = "http://127.0.0.1:9999"


@pytest.fixture
def glance() -> Glance:
    return Glance("uc")


def get(glance: Glance, path: str, **query: str) -> object:
    resp = glance.handle(Request("GET", path, query={k: [v] for k, v in query.items()}, base_url=BASE))
    return resp.status, resp.body


def test_versions_document(glance: Glance) -> None:
    status, body = get(glance, "")
    assert status == 300 and body["versions"][0]["id"] == "v2.16" and body["versions"][0]["status"] == "CURRENT"
    assert body["versions"][0]["links"][0]["href"] == f"{BASE}/uc/image/v2/"
    assert glance.public("") and not glance.public("/v2/images")


def test_every_chameleon_image_with_realistic_properties() -> None:
    status, body = get(Glance("tacc"), "/v2/images")  # CHI@TACC holds every supported bare-metal image
    assert status == 200 and "next" not in body
    images = {i["name"]: i for i in body["images"]}
    assert set(images) == {spec.name for spec in CATALOG}
    assert "CC-Ubuntu20.04" not in images and images["CC-Ubuntu26.04"]["build-os"] == "ubuntu-resolute"
    cuda = images["CC-Ubuntu22.04-CUDA"]
    assert cuda["build-variant"] == "gpu" and cuda["build-os"] == "ubuntu-jammy" and cuda["architecture"] == "x86_64"
    assert cuda["build-repo"] == BUILD_REPO and cuda["os_distro"] == "ubuntu" and cuda["os_version"] == "22.04"
    assert (cuda["status"], cuda["visibility"], cuda["disk_format"], cuda["container_format"]) == \
        ("active", "public", "qcow2", "bare")
    assert len(cuda["checksum"]) == 32 and len(cuda["os_hash_value"]) == 128 and cuda["size"] > 0
    assert images["CC-Ubuntu24.04-ARM64"]["architecture"] == "aarch64"
    assert images["CC-Ubuntu24.04-ROCm"]["build-variant"] == "rocm"
    assert images["CC-Centos9-Stream"]["os_distro"] == "centos"


def test_each_site_holds_the_images_of_the_docs_site_matrix() -> None:
    names = {site: {spec.name for spec in site_catalog(site)} for site in ("uc", "tacc", "ncar")}
    assert not any("ROCm" in n or "ARM64" in n for n in names["uc"])  # no AMD GPUs, no ARM nodes at UC
    assert {n for n in names["tacc"] if "ROCm" in n} == {"CC-Ubuntu24.04-ROCm"}  # ROCm only at TACC
    assert not any("CUDA" in n or "ROCm" in n for n in names["ncar"])
    assert {"CC-Ubuntu22.04-ARM64", "CC-Ubuntu24.04-ARM64"} <= names["ncar"] & names["tacc"]
    assert all({"CC-Ubuntu26.04", "CC-Ubuntu24.04", "CC-Ubuntu22.04"} <= held for held in names.values())


def test_ids_are_stable_and_differ_between_sites(glance: Glance) -> None:
    again = Glance("uc").find("CC-Ubuntu22.04")
    assert again is not None and again["id"] == glance.find("CC-Ubuntu22.04")["id"]
    assert Glance("tacc").find("CC-Ubuntu22.04")["id"] != again["id"]


def test_filters_the_cli_sends(glance: Glance) -> None:
    ids = [glance.find(n)["id"] for n in ("CC-Ubuntu22.04", "CC-Ubuntu24.04")]
    assert [i["name"] for i in get(glance, "/v2/images", name="CC-Ubuntu22.04")[1]["images"]] == ["CC-Ubuntu22.04"]
    assert {i["id"] for i in get(glance, "/v2/images", id=f"in:{ids[0]},{ids[1]}")[1]["images"]} == set(ids)
    assert get(glance, "/v2/images", os_hidden="True")[1]["images"] == []
    assert get(glance, "/v2/images", name="CC-Nope")[1]["images"] == []
    arm = get(Glance("ncar"), "/v2/images", architecture="aarch64")[1]["images"]
    assert {i["name"] for i in arm} == {"CC-Ubuntu22.04-ARM64", "CC-Ubuntu24.04-ARM64"}
    assert get(glance, "/v2/images", architecture="aarch64")[1]["images"] == []
    assert len(get(glance, "/v2/images", visibility="public")[1]["images"]) == len(site_catalog("uc"))


def test_show_and_not_found(glance: Glance) -> None:
    image = glance.find("CC-Ubuntu26.04")
    assert image is not None and get(glance, f"/v2/images/{image['id']}") == (200, image)
    status, body = get(glance, "/v2/images/CC-Ubuntu26.04")  # the CLI tries the name as an id first
    assert status == 404 and "No image found with ID CC-Ubuntu26.04" in body
    assert glance.find("CC-Ubuntu20.04") is None  # no longer offered


def test_schema_and_read_only(glance: Glance) -> None:
    status, schema = get(glance, "/v2/schemas/image")
    assert status == 200 and schema["name"] == "image" and "os_hash_value" in schema["properties"]
    assert schema["additionalProperties"] == {"type": "string"}
    assert glance.handle(Request("POST", "/v2/images", body={"name": "x"})).status == 403
