"""Nova: microversions, the baremetal flavor, keypairs and the server life cycle driven by the clock."""

from __future__ import annotations

import base64
import hashlib
import struct
from typing import Any

import pytest

from chameleon_twin.clock import SERVER_BOOT_SECONDS, SERVER_SCHEDULE_SECONDS, Clock
from chameleon_twin.glance import Glance
from chameleon_twin.http import Request, Response
from chameleon_twin.neutron import Neutron
from chameleon_twin.nova import NO_VALID_HOST, Nova, fingerprint

USER, PROJECT = "u" * 32, "p" * 32
BLOB = struct.pack(">I", 11) + b"ssh-ed25519" + struct.pack(">I", 32) + bytes(range(32))
PUBLIC_KEY = f"ssh-ed25519 {base64.b64encode(BLOB).decode()} me@laptop"


class Hosts:
    """Blazar's side of the contract: one reservation with one free node."""

    def __init__(self) -> None:
        self.free = {"res-1": ["node-a"]}
        self.released: list[str] = []

    def claim_host(self, reservation_id: str) -> str | None:
        nodes = self.free.get(reservation_id) or []
        return nodes.pop() if nodes else None

    def release_host(self, hypervisor_hostname: str) -> None:
        self.released.append(hypervisor_hostname)


@pytest.fixture
def clock() -> Clock:
    return Clock(speed=60)


@pytest.fixture
def nova(clock: Clock) -> Nova:
    nova = Nova("CHI@UC", "uc", clock, Glance("uc"), Neutron("uc", PROJECT, clock), mac_for=lambda h: "aa:bb:cc:0:1:2")
    nova.blazar = Hosts()
    return nova


def call(nova: Nova, method: str, path: str, body: Any = None, version: str = "2.96", **query: str) -> Response:
    headers = {"x-twin-user-id": USER, "x-twin-project-id": PROJECT, "openstack-api-version": f"compute {version}"}
    return nova.handle(Request(method, path, {k: [v] for k, v in query.items()}, body, headers, "http://t"))


def boot(nova: Nova, hint: str | None = "res-1", key: str | None = None, name: str = "s1") -> str:
    body: dict = {"server": {"name": name, "imageRef": nova.glance.find("CC-Ubuntu22.04")["id"],
                             "flavorRef": nova.flavor["id"], "networks": [{"uuid": nova.neutron.sharednet["id"]}],
                             "min_count": 1, "max_count": 1}}
    if key:
        body["server"]["key_name"] = key
    if hint:
        body["OS-SCH-HNT:scheduler_hints"] = {"reservation": hint}
    resp = call(nova, "POST", "/v2.1/servers", body)
    assert resp.status == 202, resp.body
    return resp.body["server"]["id"]


def show(nova: Nova, server_id: str) -> dict:
    return call(nova, "GET", f"/v2.1/servers/{server_id}").body["server"]


def test_version_document_and_microversion_limits(nova: Nova) -> None:
    doc = call(nova, "GET", "/v2.1").body["version"]
    assert (doc["version"], doc["min_version"], doc["links"][0]["href"]) == ("2.96", "2.1", "http://t/uc/compute/v2.1/")
    too_new = call(nova, "GET", "/v2.1/flavors", version="2.100")
    assert too_new.status == 406 and "maximum is 2.96" in too_new.body["computeFault"]["message"]
    assert nova.public("/v2.1/") and not nova.public("/v2.1/servers")


def test_baremetal_flavor(nova: Nova) -> None:
    detail = call(nova, "GET", "/v2.1/flavors/detail", is_public="None").body["flavors"]
    assert [f["name"] for f in detail] == ["baremetal"] and detail[0]["os-flavor-access:is_public"] is True
    fid = detail[0]["id"]
    assert call(nova, "GET", f"/v2.1/flavors/{fid}").body["flavor"]["name"] == "baremetal"
    assert call(nova, "GET", f"/v2.1/flavors/{fid}/os-extra_specs").body["extra_specs"]
    assert call(nova, "GET", "/v2.1/flavors/baremetal").status == 404


def test_keypair_life_cycle(nova: Nova) -> None:
    created = call(nova, "POST", "/v2.1/os-keypairs", {"keypair": {"name": "k1", "public_key": PUBLIC_KEY}})
    digest = hashlib.md5(BLOB).hexdigest()
    assert created.status == 201
    assert created.body["keypair"]["fingerprint"] == ":".join(digest[i:i + 2] for i in range(0, 32, 2))
    dup = call(nova, "POST", "/v2.1/os-keypairs", {"keypair": {"name": "k1", "public_key": PUBLIC_KEY}})
    assert dup.status == 409 and dup.body["conflictingRequest"]["message"] == "Key pair 'k1' already exists."
    listed = call(nova, "GET", "/v2.1/os-keypairs").body["keypairs"]
    assert [k["keypair"]["name"] for k in listed] == ["k1"]
    shown = call(nova, "GET", "/v2.1/os-keypairs/k1").body["keypair"]
    assert shown["user_id"] == USER and shown["public_key"] == PUBLIC_KEY and shown["type"] == "ssh"
    assert call(nova, "DELETE", "/v2.1/os-keypairs/k1").status == 204
    assert call(nova, "GET", "/v2.1/os-keypairs/k1").status == 404


@pytest.mark.parametrize("keypair", [
    {"name": "k2"},  # no public key: Nova >= 2.92 never generates one
    {"name": "k2", "public_key": "ssh-ed25519 not-base64!"},
    {"name": "k2", "public_key": "ssh-rsa " + base64.b64encode(BLOB).decode()},  # type does not match the blob
    {"name": "bad/name", "public_key": PUBLIC_KEY},
])
def test_invalid_keypairs_are_400(nova: Nova, keypair: dict) -> None:
    assert call(nova, "POST", "/v2.1/os-keypairs", {"keypair": keypair}).status == 400


def test_fingerprint_matches_nova() -> None:
    assert fingerprint(PUBLIC_KEY).count(":") == 15


def test_server_builds_then_goes_active_on_the_claimed_host(nova: Nova, clock: Clock) -> None:
    call(nova, "POST", "/v2.1/os-keypairs", {"keypair": {"name": "k1", "public_key": PUBLIC_KEY}})
    server_id = boot(nova, key="k1")
    server = show(nova, server_id)
    assert server["status"] == "BUILD" and server["progress"] == 0 and "fault" not in server
    assert server["OS-EXT-SRV-ATTR:hypervisor_hostname"] == "node-a"
    assert server["flavor"]["original_name"] == "baremetal" and server["image"]["id"]
    fixed = server["addresses"]["sharednet1"][0]
    assert fixed["OS-EXT-IPS:type"] == "fixed" and fixed["addr"].startswith("10.140.")
    clock.advance(SERVER_BOOT_SECONDS / clock.speed + 0.1)
    server = show(nova, server_id)
    assert server["status"] == "ACTIVE" and server["OS-EXT-STS:vm_state"] == "active"
    assert server["OS-SRV-USG:launched_at"] and server["progress"] == 0


@pytest.mark.parametrize("hint", [None, "unknown-reservation"])
def test_without_a_host_the_server_fails_with_no_valid_host(nova: Nova, clock: Clock, hint: str | None) -> None:
    server_id = boot(nova, hint=hint)
    assert show(nova, server_id)["status"] == "BUILD"
    clock.advance(SERVER_SCHEDULE_SECONDS / clock.speed + 0.1)
    server = show(nova, server_id)
    assert server["status"] == "ERROR" and server["fault"]["message"] == NO_VALID_HOST
    assert server["fault"]["code"] == 500 and server["addresses"] == {}
    assert server["OS-EXT-SRV-ATTR:hypervisor_hostname"] is None


def test_create_validation(nova: Nova) -> None:
    image = nova.glance.find("CC-Ubuntu22.04")["id"]
    base = {"name": "x", "imageRef": image, "flavorRef": nova.flavor["id"]}
    bad_key = call(nova, "POST", "/v2.1/servers", {"server": {**base, "key_name": "nope"}})
    assert bad_key.status == 400 and bad_key.body["badRequest"]["message"] == "Invalid key_name provided."
    assert call(nova, "POST", "/v2.1/servers", {"server": {**base, "imageRef": "nope"}}).status == 400
    assert call(nova, "POST", "/v2.1/servers", {"server": {**base, "flavorRef": "nope"}}).status == 400
    assert call(nova, "POST", "/v2.1/servers", {"server": {**base, "networks": [{"uuid": "n"}]}}).status == 400


def test_list_filters_and_delete(nova: Nova) -> None:
    first = boot(nova, name="web-1")
    boot(nova, hint=None, name="db-1")
    names = [s["name"] for s in call(nova, "GET", "/v2.1/servers/detail", name="^web").body["servers"]]
    assert names == ["web-1"]
    assert len(call(nova, "GET", "/v2.1/servers/detail", deleted="False").body["servers"]) == 2
    assert call(nova, "GET", "/v2.1/servers/detail", deleted="True").body["servers"] == []
    assert call(nova, "GET", "/v2.1/servers/web-1").status == 404  # names are not ids
    port = nova.neutron.ports[next(iter(nova.neutron.ports))]
    fip = nova.neutron.handle(Request("POST", "/v2.0/floatingips", body={"floatingip": {
        "floating_network_id": nova.neutron.public["id"], "port_id": port["id"]}},
        headers={"x-twin-project-id": PROJECT})).body["floatingip"]
    assert fip["floating_ip_address"] in [a["addr"] for a in show(nova, first)["addresses"]["sharednet1"]]
    assert call(nova, "DELETE", f"/v2.1/servers/{first}").status == 204
    assert nova.blazar.released == ["node-a"] and nova.neutron.ports == {}
    assert nova.neutron.fips[fip["id"]]["port_id"] is None  # disassociated, not deleted


def test_set_error_and_delete_on_hosts(nova: Nova) -> None:
    server_id = boot(nova)
    assert nova.set_error(server_id, "Failure prepping block device.")
    server = show(nova, server_id)
    assert server["status"] == "ERROR" and server["fault"]["message"] == "Failure prepping block device."
    assert nova.delete_on_hosts(["node-a"]) == [server_id]
    assert nova.servers == {} and nova.blazar.released == []  # Blazar frees its own hosts at lease end


def test_user_data_is_kept_and_shown_base64_from_microversion_2_3(nova: Nova) -> None:
    image = nova.glance.find("CC-Ubuntu22.04")["id"]
    data = base64.b64encode(b"#!/bin/bash\necho hi\n").decode()
    resp = call(nova, "POST", "/v2.1/servers",
                {"server": {"name": "u", "imageRef": image, "flavorRef": nova.flavor["id"], "user_data": data}})
    assert resp.status == 202
    server_id = resp.body["server"]["id"]
    assert show(nova, server_id)["OS-EXT-SRV-ATTR:user_data"] == data
    old = call(nova, "GET", f"/v2.1/servers/{server_id}", version="2.2").body["server"]
    assert "OS-EXT-SRV-ATTR:user_data" not in old
    listed = call(nova, "GET", "/v2.1/servers/detail").body["servers"]
    assert [s["OS-EXT-SRV-ATTR:user_data"] for s in listed if s["id"] == server_id] == [data]
    plain = boot(nova, hint=None, name="no-data")
    assert show(nova, plain)["OS-EXT-SRV-ATTR:user_data"] is None


@pytest.mark.parametrize(("value", "ending"), [
    ("A" * 65536, "is too long"),
    ("abc", "is not a 'base64'"),
    (12, "12 is not of type 'string'"),
])
def test_user_data_is_checked_like_novas_schema(nova: Nova, value: Any, ending: str) -> None:
    image = nova.glance.find("CC-Ubuntu22.04")["id"]
    resp = call(nova, "POST", "/v2.1/servers",
                {"server": {"name": "u", "imageRef": image, "flavorRef": nova.flavor["id"], "user_data": value}})
    message = resp.body["badRequest"]["message"]
    assert resp.status == 400 and message.startswith(f"Invalid input for field/attribute user_data. Value: {value}. ")
    assert message.endswith(ending) and not nova.servers
    base = {"name": "u", "imageRef": image, "flavorRef": nova.flavor["id"]}
    at_limit = call(nova, "POST", "/v2.1/servers", {"server": {**base, "user_data": "A" * 65532}})
    assert at_limit.status == 202
