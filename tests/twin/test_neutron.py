"""Neutron: the two networks, server ports, ad-hoc and Blazar-reserved floating IPs, error bodies."""

from __future__ import annotations

from typing import Any

import pytest

from chameleon_twin.clock import Clock
from chameleon_twin.http import Request, Response
from chameleon_twin.neutron import Neutron

PROJECT = "p" * 32


@pytest.fixture
def neutron() -> Neutron:
    return Neutron("uc", PROJECT, Clock())


def call(neutron: Neutron, method: str, path: str, body: Any = None, **query: str | list[str]) -> Response:
    q = {k: v if isinstance(v, list) else [v] for k, v in query.items()}
    return neutron.handle(Request(method, path, q, body, {"x-twin-project-id": PROJECT}, "http://t"))


def create_fip(neutron: Neutron, **extra: Any) -> Response:
    return call(neutron, "POST", "/v2.0/floatingips",
                {"floatingip": {"floating_network_id": neutron.public["id"], **extra}})


def test_networks_by_name_and_not_found(neutron: Neutron) -> None:
    assert call(neutron, "GET", "/v2.0/networks/sharednet1").status == 404  # the CLI tries the name as an id
    found = call(neutron, "GET", "/v2.0/networks", name="sharednet1").body["networks"]
    assert len(found) == 1 and found[0]["shared"] is True and found[0]["router:external"] is False
    public = call(neutron, "GET", f"/v2.0/networks/{neutron.public['id']}").body["network"]
    assert public["router:external"] is True and public["name"] == "public"
    assert len(public) >= 20
    external = call(neutron, "GET", "/v2.0/networks", **{"router:external": "True"}).body["networks"]
    assert [n["name"] for n in external] == ["public"]
    missing = call(neutron, "GET", "/v2.0/networks/nope")
    assert missing.status == 404 and missing.body == {"NeutronError": {
        "type": "NetworkNotFound", "message": "Network nope could not be found.", "detail": ""}}


def test_subnets(neutron: Neutron) -> None:
    subnet_id = neutron.sharednet["subnets"][0]
    subnet = call(neutron, "GET", f"/v2.0/subnets/{subnet_id}").body["subnet"]
    assert subnet["cidr"] == "10.140.80.0/22" and subnet["network_id"] == neutron.sharednet["id"]


def test_adhoc_floating_ip_life_cycle(neutron: Neutron) -> None:
    port = neutron.create_port(neutron.sharednet["id"], "server-1", PROJECT, "aa:bb:cc:dd:ee:ff")
    assert call(neutron, "GET", "/v2.0/ports", device_id="server-1").body["ports"] == [port]
    fip = create_fip(neutron).body["floatingip"]
    assert fip["floating_ip_address"].startswith("192.5.87.") and fip["status"] == "DOWN" and fip["tags"] == []
    updated = call(neutron, "PUT", f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"port_id": port["id"]}})
    assert updated.status == 200
    assert updated.body["floatingip"]["fixed_ip_address"] == port["fixed_ips"][0]["ip_address"]
    assert updated.body["floatingip"]["status"] == "ACTIVE" and updated.body["floatingip"]["port_details"]
    by_port = call(neutron, "GET", "/v2.0/floatingips", port_id=port["id"]).body["floatingips"]
    assert [f["id"] for f in by_port] == [fip["id"]]
    addresses = neutron.device_addresses("server-1")["sharednet1"]
    assert [a["OS-EXT-IPS:type"] for a in addresses] == ["fixed", "floating"]
    second = create_fip(neutron).body["floatingip"]
    clash = call(neutron, "PUT", f"/v2.0/floatingips/{second['id']}", {"floatingip": {"port_id": port["id"]}})
    assert clash.status == 409 and clash.body["NeutronError"]["type"] == "FloatingIPPortAlreadyAssociated"
    neutron.delete_ports("server-1")
    assert neutron.fips[fip["id"]]["port_id"] is None and neutron.fips[fip["id"]]["status"] == "DOWN"
    assert call(neutron, "DELETE", f"/v2.0/floatingips/{fip['id']}").status == 204
    assert call(neutron, "GET", f"/v2.0/floatingips/{fip['id']}").status == 404


def test_floating_ip_errors(neutron: Neutron) -> None:
    assert call(neutron, "POST", "/v2.0/floatingips", {"floatingip": {"floating_network_id": "nope"}}).status == 404
    internal = call(neutron, "POST", "/v2.0/floatingips",
                    {"floatingip": {"floating_network_id": neutron.sharednet["id"]}})
    assert internal.status == 400 and "not a valid external network" in internal.body["NeutronError"]["message"]
    assert create_fip(neutron, floating_ip_address="192.5.87.50").status == 403
    bad_port = call(neutron, "PUT", f"/v2.0/floatingips/{create_fip(neutron).body['floatingip']['id']}",
                    {"floatingip": {"port_id": "nope"}})
    assert bad_port.status == 404 and bad_port.body["NeutronError"]["type"] == "PortNotFound"


def test_exhausted_pool_is_a_409(neutron: Neutron) -> None:
    create_fip(neutron)
    assert neutron.exhaust_adhoc_pool() == 1
    full = create_fip(neutron)
    assert full.status == 409
    assert full.body["NeutronError"] == {"type": "IpAddressGenerationFailure", "detail": "",
                                         "message": f"No more IP addresses available on network "
                                                    f"{neutron.public['id']}."}


def test_blazar_reserved_floating_ips_are_tagged_and_from_their_own_pool(neutron: Neutron) -> None:
    neutron.exhaust_adhoc_pool()  # a separate pool: still available
    neutron.reserve_floating_ips("res-9", neutron.public["id"], neutron.reserved_range()[:2])
    tagged = call(neutron, "GET", "/v2.0/floatingips", tags="reservation:res-9").body["floatingips"]
    assert len(tagged) == 2
    assert all(f["tags"] == ["blazar", "reservation:res-9"] and f["floating_ip_address"].startswith("192.5.86.")
               for f in tagged)
    assert call(neutron, "GET", "/v2.0/floatingips", tags="reservation:other").body["floatingips"] == []
    assert len(call(neutron, "GET", "/v2.0/floatingips", **{"tags-any": "blazar,x"}).body["floatingips"]) == 2
    neutron.release_reservation_fips("res-9")
    assert neutron.fips == {}


def test_floating_ip_quota_is_neutrons_over_quota(neutron: Neutron) -> None:
    neutron.reserve_floating_ips("res-1", neutron.public["id"], neutron.reserved_range()[:1])  # counts too
    neutron.floatingip_quota[PROJECT] = 2
    assert create_fip(neutron).status == 201
    over = create_fip(neutron)
    assert over.status == 409
    assert over.body["NeutronError"] == {"type": "OverQuota", "detail": "",
                                         "message": "Quota exceeded for resources: ['floatingip']."}
    assert neutron.quota("someone-else") == 50  # Neutron's default


def test_tacc_addresses() -> None:
    tacc = Neutron("tacc", PROJECT, Clock())
    fip = tacc.handle(Request("POST", "/v2.0/floatingips", body={"floatingip": {
        "floating_network_id": tacc.public["id"]}})).body["floatingip"]
    assert fip["floating_ip_address"].startswith("129.114.108.")
