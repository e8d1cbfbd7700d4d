"""The twin's resource discovery API: envelopes, .json suffix, paging and 404s."""

from __future__ import annotations

from typing import Any

import pytest

from chameleon_twin import inventory
from chameleon_twin.discovery import DiscoveryService
from chameleon_twin.http import Request, Response

ENVELOPE = {"total", "offset", "items", "version", "links"}


@pytest.fixture(scope="module")
def api() -> DiscoveryService:
    return DiscoveryService()


def get(api: DiscoveryService, path: str, **query: str) -> Response:
    return api.handle(Request("GET", path, query={k: [v] for k, v in query.items()}))


def ok(api: DiscoveryService, path: str, **query: str) -> Any:
    resp = get(api, path, **query)
    assert resp.status == 200, (path, resp.body)
    return resp.body


def test_root_document(api: DiscoveryService) -> None:
    root = ok(api, "/")
    assert root["type"] == "grid" and root["uid"] == "chameleoncloud"
    assert root["version"] == inventory.version()
    assert isinstance(root["timestamp"], str)
    assert [link["rel"] for link in root["links"]] == ["sites", "self", "parent", "versions"]


def test_sites_collection(api: DiscoveryService) -> None:
    body = ok(api, "/sites")
    assert set(body) == ENVELOPE
    assert body["total"] == 3 and body["offset"] == 0
    assert {s["uid"]: s["name"] for s in body["items"]} == {"tacc": "CHI@TACC", "uc": "CHI@UC", "ncar": "CHI@NCAR"}
    ncar = next(s for s in body["items"] if s["uid"] == "ncar")
    assert ncar["web"] == "https://chi.hpc.ucar.edu" and ncar["site_class"] == "baremetal"
    assert body["links"] == [{"rel": "self", "href": "/sites"}, {"rel": "parent", "href": "/"}]
    uc = next(s for s in body["items"] if s["uid"] == "uc")
    assert uc["web"] == "https://chi.uc.chameleoncloud.org" and uc["site_class"] == "baremetal"
    assert {"description", "location", "latitude", "longitude", "email_contact", "version"} <= set(uc)
    assert [link["rel"] for link in uc["links"]] == ["self", "parent", "clusters", "versions", "version"]


def test_json_suffix_is_optional(api: DiscoveryService) -> None:
    assert ok(api, "/sites.json") == ok(api, "/sites")
    assert ok(api, "/sites/uc.json") == ok(api, "/sites/uc")
    nodes = ok(api, "/sites/tacc/clusters/chameleon/nodes.json")
    assert nodes == ok(api, "/sites/tacc/clusters/chameleon/nodes")
    uid = nodes["items"][0]["uid"]
    assert ok(api, f"/sites/tacc/clusters/chameleon/nodes/{uid}.json")["uid"] == uid


def test_site_and_clusters(api: DiscoveryService) -> None:
    assert ok(api, "/sites/uc")["name"] == "CHI@UC"
    clusters = ok(api, "/sites/uc/clusters")
    assert set(clusters) == ENVELOPE and clusters["total"] == 1
    assert clusters["items"][0]["uid"] == "chameleon"
    cluster = ok(api, "/sites/uc/clusters/chameleon")
    assert {"rel": "nodes", "href": "/sites/uc/clusters/chameleon/nodes"} in cluster["links"]


def test_nodes_collection(api: DiscoveryService) -> None:
    body = ok(api, "/sites/uc/clusters/chameleon/nodes")
    assert set(body) == ENVELOPE
    assert (body["total"], body["offset"], len(body["items"])) == (132, 0, 132)
    assert body["links"] == [{"rel": "self", "href": "/sites/uc/clusters/chameleon/nodes"},
                             {"rel": "parent", "href": "/sites/uc/clusters/chameleon"}]
    assert body["items"] == inventory.node_records("uc")
    item = body["items"][0]
    assert item["version"] == body["version"] == inventory.version()
    assert item["links"][0] == {"rel": "self", "href": f"/sites/uc/clusters/chameleon/nodes/{item['uid']}"}
    assert ok(api, "/sites/tacc/clusters/chameleon/nodes")["total"] == 313


def test_paging(api: DiscoveryService) -> None:
    page = ok(api, "/sites/uc/clusters/chameleon/nodes", offset="100", limit="50")
    assert (page["total"], page["offset"], len(page["items"])) == (132, 100, 32)
    assert page["items"] == inventory.node_records("uc")[100:]
    assert len(ok(api, "/sites/tacc/clusters/chameleon/nodes", limit="5")["items"]) == 5
    capped = ok(api, "/sites/tacc/clusters/chameleon/nodes", limit="100000")
    assert len(capped["items"]) == 313  # under the 500 cap
    assert ok(api, "/sites/uc/clusters/chameleon/nodes", offset="500")["items"] == []
    assert get(api, "/sites/uc/clusters/chameleon/nodes", limit="many").status == 400
    assert get(api, "/sites/uc/clusters/chameleon/nodes", offset="-1").status == 400


def test_one_node(api: DiscoveryService) -> None:
    node = inventory.node_records("uc")[5]
    assert ok(api, f"/sites/uc/clusters/chameleon/nodes/{node['uid']}") == node


@pytest.mark.parametrize("path", [
    "/sites/edge", "/sites/nope/clusters/chameleon/nodes", "/sites/uc/clusters/other",
    "/sites/uc/clusters/chameleon/nodes/00000000-0000-0000-0000-000000000000", "/nodes", "/sites/uc/whatever",
])
def test_unknown_resources_are_json_404s(api: DiscoveryService, path: str) -> None:
    resp = get(api, path)
    assert resp.status == 404
    assert resp.body["code"] == 404 and resp.body["message"]


def test_a_node_of_the_other_site_is_not_found(api: DiscoveryService) -> None:
    tacc_uid = inventory.node_records("tacc")[0]["uid"]
    assert get(api, f"/sites/uc/clusters/chameleon/nodes/{tacc_uid}").status == 404


def test_versions_and_read_only(api: DiscoveryService) -> None:
    history = ok(api, "/sites/uc/versions")
    assert history["items"][0]["uid"] == inventory.version()
    assert ok(api, f"/sites/uc/versions/{inventory.version()}")["type"] == "version"
    assert get(api, "/sites/uc/versions/deadbeef").status == 404
    assert api.handle(Request("POST", "/sites", body={})).status == 405
