"""The HTTP layer: keep-alive, Content-Length everywhere, auth headers, bodies, threads, start/stop."""

from __future__ import annotations

import http.client
import json
import threading
from typing import Any

import pytest

from chameleon_twin.env import twin_env
from chameleon_twin.keystone import PASSWORD, PROJECT_NAME, USERNAME
from chameleon_twin.server import TwinServer

PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f"
AUTH = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
    "name": USERNAME, "domain": {"name": "Default"}, "password": PASSWORD}}},
    "scope": {"project": {"name": PROJECT_NAME, "domain": {"name": "Default"}}}}}


def request(conn: http.client.HTTPConnection, method: str, path: str, body: Any = None,
            headers: dict[str, str] | None = None, raw: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
    resp = conn.getresponse()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()


@pytest.fixture
def conn(twin: TwinServer) -> http.client.HTTPConnection:
    connection = http.client.HTTPConnection("127.0.0.1", twin.port, timeout=10)
    yield connection
    connection.close()


def login(conn: http.client.HTTPConnection, site: str = "uc") -> str:
    status, headers, _ = request(conn, "POST", f"/{site}/identity/v3/auth/tokens", AUTH)
    assert status == 201
    return headers["x-subject-token"]


def test_one_connection_serves_many_requests_each_with_content_length(conn: http.client.HTTPConnection) -> None:
    token = login(conn)
    auth = {"X-Auth-Token": token}
    status, headers, body = request(conn, "POST", "/uc/compute/v2.1/os-keypairs",
                                    {"keypair": {"name": "k", "public_key": PUBLIC_KEY}}, auth)
    assert status == 201 and headers["content-length"] == str(len(body))
    status, headers, body = request(conn, "DELETE", "/uc/compute/v2.1/os-keypairs/k", headers=auth)
    assert status == 204 and headers["content-length"] == "0" and body == b""
    status, headers, body = request(conn, "GET", "/uc/image/v2/images", headers=auth)
    assert status == 200 and headers["content-type"] == "application/json" and json.loads(body)["images"]
    assert headers["x-openstack-request-id"].startswith("req-")
    status, headers, body = request(conn, "HEAD", "/uc/image/v2/images", headers=auth)
    assert status == 200 and int(headers["content-length"]) > 0 and body == b""
    sock = conn.sock
    assert request(conn, "GET", "/")[0] == 200 and conn.sock is sock  # still the same socket


def test_catalog_follows_the_host_the_client_used(twin: TwinServer) -> None:
    connection = http.client.HTTPConnection("localhost", twin.port, timeout=10)
    _, _, body = request(connection, "POST", "/tacc/identity/v3/auth/tokens", AUTH)
    urls = {e["url"] for entry in json.loads(body)["token"]["catalog"] for e in entry["endpoints"]}
    assert f"http://localhost:{twin.port}/tacc/compute/v2.1" in urls
    connection.close()


def test_auth_failures_and_bad_bodies(conn: http.client.HTTPConnection) -> None:
    status, headers, body = request(conn, "GET", "/uc/compute/v2.1/os-keypairs")
    assert status == 401 and "keystone uri=" in headers["www-authenticate"].lower()
    assert json.loads(body)["error"]["message"] == "The request you have made requires authentication."
    assert request(conn, "POST", "/uc/identity/v3/auth/tokens", raw=b"{not json")[0] == 400
    assert request(conn, "GET", "/nowhere/compute/v2.1")[0] == 404


def test_twin_headers_from_clients_are_ignored(conn: http.client.HTTPConnection) -> None:
    token = login(conn)
    request(conn, "POST", "/uc/compute/v2.1/os-keypairs", {"keypair": {"name": "mine", "public_key": PUBLIC_KEY}},
            {"X-Auth-Token": token, "X-Twin-User-Id": "someone-else"})
    _, _, body = request(conn, "GET", "/uc/compute/v2.1/os-keypairs", headers={"X-Auth-Token": token})
    assert [k["keypair"]["name"] for k in json.loads(body)["keypairs"]] == ["mine"]


def test_chunked_request_bodies(twin: TwinServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", twin.port, timeout=10)
    connection.request("POST", "/uc/identity/v3/auth/tokens", body=iter([json.dumps(AUTH).encode()]),
                       headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                       encode_chunked=True)
    assert connection.getresponse().status == 201
    connection.close()


def test_concurrent_clients(twin: TwinServer) -> None:
    results: list[int] = []

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", twin.port, timeout=10)
        token = login(connection, "tacc")
        for _ in range(5):
            results.append(request(connection, "GET", "/tacc/network/v2.0/networks",
                                   headers={"X-Auth-Token": token})[0])
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 40


def test_env_matches_the_shared_builder(twin: TwinServer) -> None:
    env = twin.env("CHI@TACC")
    assert env == twin_env(twin.base_url, "CHI@TACC")
    assert env["OS_AUTH_URL"] == f"{twin.base_url}/tacc/identity/v3" and env["OS_REGION_NAME"] == "CHI@TACC"
    assert env["PROVISION_SITE_AUTH_URLS"] == (f"CHI@UC={twin.base_url}/uc/identity/v3,"
                                               f"CHI@TACC={twin.base_url}/tacc/identity/v3,"
                                               f"CHI@NCAR={twin.base_url}/ncar/identity/v3")
    assert env["CHAMELEON_API_URL"] == f"{twin.base_url}/api"
    appcred = twin.env(auth="appcred")
    assert appcred["OS_AUTH_TYPE"] == "v3applicationcredential" and "OS_USERNAME" not in appcred
    with pytest.raises(ValueError):
        twin.env("CHI@NOWHERE")


def test_start_stop_and_context_manager() -> None:
    server = TwinServer(port=0, speed=1)
    port = server.port
    assert port > 0 and server.base_url == f"http://127.0.0.1:{port}"
    with server:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        assert request(connection, "GET", "/api/sites")[0] == 200
        connection.close()
    with pytest.raises(OSError):
        http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/")
    TwinServer(port=0).stop()  # never started: stop still releases the port
