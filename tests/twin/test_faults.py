"""Fault injection and the /_twin admin routes, through TwinApp.dispatch (no sockets)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from chameleon_twin.app import TwinApp
from chameleon_twin.faults import FaultInjector, default_body
from chameleon_twin.http import Request, Response
from chameleon_twin.keystone import PASSWORD, PROJECT_NAME, USERNAME

BASE = "http://127.0.0.1:9999"


@pytest.fixture(scope="module")
def app() -> TwinApp:
    return TwinApp()


@pytest.fixture(autouse=True)
def _reset(app: TwinApp) -> None:
    app.reset()


def send(app: TwinApp, method: str, path: str, body: Any = None, token: str | None = None) -> Response:
    headers = {"x-auth-token": token} if token else {}
    return app.dispatch(Request(method, path, body=body, headers=headers, base_url=BASE))


def token(app: TwinApp, site: str = "uc") -> str:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": USERNAME, "domain": {"name": "Default"}, "password": PASSWORD}}},
        "scope": {"project": {"name": PROJECT_NAME, "domain": {"name": "Default"}}}}}
    return send(app, "POST", f"/{site}/identity/v3/auth/tokens", body).headers["X-Subject-Token"]


def test_rules_match_method_and_prefix_then_run_out() -> None:
    faults = FaultInjector()
    faults.add({"method": "GET", "path": "/uc/compute/v2.1/servers", "status": 503, "count": 2, "retry_after": 7})
    assert faults.take("POST", "/uc/compute/v2.1/servers", "") is None
    assert faults.take("GET", "/tacc/compute/v2.1/servers", "") is None
    first = faults.take("GET", "/uc/compute/v2.1/servers/detail", "deleted=False")
    assert first is not None and first.status == 503 and first.headers["Retry-After"] == "7"
    assert "Service Unavailable" in first.body and first.headers["Content-Type"].startswith("text/html")
    assert faults.take("GET", "/uc/compute/v2.1/servers", "") is not None
    assert faults.take("GET", "/uc/compute/v2.1/servers", "") is None and faults.rules() == []


def test_regex_rules_see_the_query() -> None:
    faults = FaultInjector()
    faults.add({"path_regex": r"/images\?.*name=CC-Ubuntu22\.04", "status": 500, "body": {"oops": True}})
    assert faults.take("GET", "/uc/image/v2/images", "name=CC-Ubuntu24.04") is None
    hit = faults.take("GET", "/uc/image/v2/images", "name=CC-Ubuntu22.04")
    assert hit is not None and hit.body == {"oops": True}


@pytest.mark.parametrize("spec", [{"path": "/x", "status": 200}, {"path": "/x", "count": 0}, {"status": 500},
                                  {"path_regex": "(", "status": 500}, {"path": "/x", "retry_after": -1}, []])
def test_invalid_rules_are_refused(spec: Any) -> None:
    with pytest.raises(ValueError):
        FaultInjector().add(spec)


def test_default_bodies_look_like_each_service() -> None:
    assert "computeFault" in default_body(500, "/uc/compute/v2.1/servers")
    assert "NeutronError" in default_body(500, "/uc/network/v2.0/floatingips")
    assert default_body(500, "/tacc/reservation/v1/leases")["error_message"]
    assert default_body(500, "/uc/identity/v3/auth/tokens")["error"]["code"] == 500
    assert "Too Many Requests" in default_body(429, "/uc/compute/v2.1/servers")


def test_faults_through_the_admin_endpoint_hit_before_auth(app: TwinApp) -> None:
    made = send(app, "POST", "/_twin/faults", {"path": "/uc/identity/v3/auth/tokens", "status": 500})
    assert made.status == 201 and made.body["fault"]["count"] == 1
    assert send(app, "GET", "/_twin/faults").body["faults"][0]["path"] == "/uc/identity/v3/auth/tokens"
    assert send(app, "POST", "/uc/identity/v3/auth/tokens", {}).status == 500
    assert send(app, "GET", "/_twin/faults").body["faults"] == []
    assert send(app, "POST", "/_twin/faults", {"path": "/x", "status": 99}).status == 400
    send(app, "POST", "/_twin/faults", {"path": "/x"})
    assert send(app, "DELETE", "/_twin/faults").body == {"removed": 1}


def test_services_need_a_token_from_the_same_site(app: TwinApp) -> None:
    missing = send(app, "GET", "/uc/compute/v2.1/servers")
    assert missing.status == 401 and missing.body["error"]["code"] == 401
    assert missing.headers["WWW-Authenticate"].startswith("Keystone uri=")
    assert send(app, "GET", "/uc/compute/v2.1/servers", token=token(app, "tacc")).status == 401
    assert send(app, "GET", "/uc/compute/v2.1/servers", token=token(app)).status == 200
    assert send(app, "GET", "/uc/compute/v2.1").status == 200  # discovery needs none
    assert send(app, "GET", "/uc/image").status == 300
    assert send(app, "GET", "/uc/reservation/v1/leases").status == 401
    assert send(app, "GET", "/api/sites").status == 200


def test_state_clock_and_reset(app: TwinApp) -> None:
    state = send(app, "GET", "/_twin/state").body
    assert set(state["sites"]) == {"CHI@UC", "CHI@TACC", "CHI@NCAR"}
    assert {"keypairs", "servers", "floating_ips", "ports", "blazar"} <= set(state["sites"]["CHI@UC"])
    before = app.clock.now()
    moved = send(app, "POST", "/_twin/clock/advance", {"seconds": 3600})
    assert moved.status == 200 and (app.clock.now() - before).total_seconds() >= 3600
    assert send(app, "POST", "/_twin/clock/advance", {"seconds": -1}).status == 400
    send(app, "POST", "/_twin/reset")
    assert (app.clock.now() - before).total_seconds() < 60


def test_exhaust_and_error_routes(app: TwinApp) -> None:
    exhausted = send(app, "POST", "/_twin/sites/CHI@TACC/exhaust", {"node_type": "gpu_mi100"})
    assert exhausted.status == 200 and exhausted.body["hosts"] > 0
    assert send(app, "POST", "/_twin/sites/nowhere/exhaust", {"node_type": "x"}).status == 404
    assert send(app, "POST", "/_twin/sites/uc/exhaust", {}).status == 400
    assert send(app, "POST", "/_twin/sites/uc/floatingips/exhaust").body["allocated"] == 0
    both = send(app, "POST", "/_twin/exhaust", {"site": "CHI@UC", "node_type": "gpu_a100_nvlink"})
    assert both.status == 200 and both.body["hosts"] == 1
    assert send(app, "POST", "/_twin/exhaust", {"site": "tacc", "floating_ips": True}).status == 200
    assert send(app, "POST", "/_twin/exhaust", {"node_type": "x"}).status == 404
    assert send(app, "POST", "/_twin/servers/nope/error").status == 404
    assert send(app, "POST", "/_twin/leases/nope/error").status == 404
    assert send(app, "GET", "/_twin/nope").status == 404
    assert "GET /_twin/state" in send(app, "GET", "/_twin").body["routes"]


def test_lease_error_and_lease_end_clean_up_servers_and_reserved_addresses(app: TwinApp) -> None:
    auth, site = token(app), app.sites["CHI@UC"]
    end = (app.clock.now() + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M")
    lease = send(app, "POST", "/uc/reservation/v1/leases", {"name": "l2", "start_date": "now", "end_date": end,
        "reservations": [{"resource_type": "physical:host", "min": 1, "max": 1, "hypervisor_properties": "",
                          "resource_properties": '["==", "$node_type", "compute_skylake"]'},
                         {"resource_type": "virtual:floatingip", "network_id": site.neutron.public["id"],
                          "amount": 1}],
        "events": []}, token=auth).body["lease"]
    app.clock.advance(120)
    assert site.settle()["leases"][0]["status"] == "ACTIVE"
    assert [f["tags"][0] for f in site.neutron.fips.values()] == ["blazar"]
    host_res = next(r["id"] for r in lease["reservations"] if r["resource_type"] == "physical:host")
    server = send(app, "POST", "/uc/compute/v2.1/servers", {"server": {
        "name": "s", "imageRef": site.glance.find("CC-Ubuntu22.04")["id"], "flavorRef": site.nova.flavor["id"]},
        "OS-SCH-HNT:scheduler_hints": {"reservation": host_res}}, token=auth).body["server"]
    assert site.nova.servers[server["id"]].host is not None
    assert send(app, "POST", f"/_twin/leases/{lease['id']}/error").status == 200
    assert send(app, "POST", f"/_twin/servers/{server['id']}/error", {"message": "boom"}).status == 200
    shown = send(app, "GET", f"/uc/compute/v2.1/servers/{server['id']}", token=auth).body["server"]
    assert shown["status"] == "ERROR" and shown["fault"]["message"] == "boom"
    app.clock.advance(3 * 3600)  # past the end: Blazar deletes the servers and the reserved addresses
    assert send(app, "GET", "/uc/compute/v2.1/servers", token=auth).body["servers"] == []
    state = send(app, "GET", "/_twin/state").body["sites"]["CHI@UC"]
    assert state["floating_ips"] == [] and state["servers"] == [] and state["ports"] == []
