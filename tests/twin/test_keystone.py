"""Keystone: version documents, password / application-credential / token auth, stateless tokens."""

from __future__ import annotations

import time

import pytest

from chameleon_twin import keystone
from chameleon_twin.http import Request
from chameleon_twin.keystone import PASSWORD, PROJECT_NAME, UNAUTHORIZED, USERNAME, Keystone, app_credential

BASE = "http://127.0.0.1:9999"


def password_body(password: str = PASSWORD, project: dict | None = None) -> dict:
    scope = {"project": project or {"name": PROJECT_NAME, "domain": {"name": "Default"}}}
    return {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": USERNAME, "domain": {"name": "Default"}, "password": password}}}, "scope": scope}}


def post_token(ks: Keystone, body: object) -> tuple[int, dict, dict]:
    resp = ks.handle(Request("POST", "/v3/auth/tokens", body=body, base_url=BASE))
    return resp.status, resp.body, resp.headers


@pytest.fixture
def uc() -> Keystone:
    return Keystone("CHI@UC", "uc")


def test_version_documents_point_back_at_the_site(uc: Keystone) -> None:
    root = uc.handle(Request("GET", "", base_url=BASE))
    assert root.status == 300
    assert root.body["versions"]["values"][0]["links"][0]["href"] == f"{BASE}/uc/identity/v3/"
    v3 = uc.handle(Request("GET", "/v3", base_url=BASE))
    assert v3.status == 200 and v3.body["version"]["id"] == "v3.14"
    assert v3.body["version"]["links"][0]["href"] == f"{BASE}/uc/identity/v3/"


def test_password_token_has_a_realistic_body_and_one_region_catalog(uc: Keystone) -> None:
    status, body, headers = post_token(uc, password_body())
    assert status == 201 and headers["X-Subject-Token"]
    token = body["token"]
    assert token["methods"] == ["password"]
    assert token["user"]["name"] == USERNAME and token["user"]["domain"]["name"] == "Default"
    assert token["project"] == {"id": uc.project_id, "name": PROJECT_NAME, "domain": {"id": "default",
                                                                                         "name": "Default"}}
    assert {r["name"] for r in token["roles"]} == {"member", "reader"}
    assert token["expires_at"] > token["issued_at"] and token["audit_ids"]
    urls = {entry["type"]: {e["url"] for e in entry["endpoints"] if e["interface"] == "public"}
            for entry in token["catalog"]}
    assert urls == {"identity": {f"{BASE}/uc/identity/v3"}, "compute": {f"{BASE}/uc/compute/v2.1"},
                    "image": {f"{BASE}/uc/image"}, "network": {f"{BASE}/uc/network"},
                    "reservation": {f"{BASE}/uc/reservation/v1"}}
    assert {e["region_id"] for entry in token["catalog"] for e in entry["endpoints"]} == {"CHI@UC"}


@pytest.mark.parametrize("body", [
    password_body("wrong"),
    password_body(project={"name": "CHI-999999", "domain": {"name": "Default"}}),
    {"auth": {"identity": {"methods": ["application_credential"],
                           "application_credential": {"id": "nope", "secret": "x"}}}},
    {"auth": {"identity": {"methods": ["token"], "token": {"id": "forged.token"}}}},
])
def test_bad_credentials_get_keystones_401(uc: Keystone, body: dict) -> None:
    status, resp, headers = post_token(uc, body)
    assert status == 401 and resp == UNAUTHORIZED and "X-Subject-Token" not in headers


def test_malformed_auth_body_is_a_400(uc: Keystone) -> None:
    assert post_token(uc, {"auth": {}})[0] == 400


def test_application_credential_is_scoped_and_per_site(uc: Keystone) -> None:
    cred_id, secret = app_credential("uc")
    body = {"auth": {"identity": {"methods": ["application_credential"],
                                  "application_credential": {"id": cred_id, "secret": secret}}}}
    status, resp, _ = post_token(uc, body)
    assert status == 201 and resp["token"]["project"]["id"] == uc.project_id
    assert resp["token"]["application_credential"]["restricted"] is False
    assert post_token(Keystone("CHI@TACC", "tacc"), body)[0] == 401


def test_tokens_are_stateless_signed_and_site_bound(uc: Keystone) -> None:
    _, _, headers = post_token(uc, password_body())
    token = headers["X-Subject-Token"]
    info = Keystone("CHI@UC", "uc").verify(token)  # a new instance: as after a twin restart
    assert info is not None and info.project_id == uc.project_id and info.user_id == uc.user_id
    assert Keystone("CHI@TACC", "tacc").verify(token) is None
    payload, _, signature = token.partition(".")
    assert uc.verify(payload[:-2] + "xx." + signature) is None
    assert uc.verify(None) is None and uc.verify("garbage") is None


def test_expired_tokens_are_rejected(uc: Keystone, monkeypatch: pytest.MonkeyPatch) -> None:
    token = uc.issue(("password",))
    monkeypatch.setattr(keystone.time, "time", lambda: time.time_ns() / 1e9 + keystone.TOKEN_LIFETIME_SECONDS + 5)
    assert uc.verify(token) is None


def test_token_auth_and_validation(uc: Keystone) -> None:
    token = uc.issue(("password",))
    body = {"auth": {"identity": {"methods": ["token"], "token": {"id": token}},
                     "scope": {"project": {"id": uc.project_id}}}}
    status, resp, headers = post_token(uc, body)
    assert status == 201 and resp["token"]["methods"] == ["token"]
    check = uc.handle(Request("GET", "/v3/auth/tokens", headers={"x-auth-token": token,
                                                                 "x-subject-token": headers["X-Subject-Token"]},
                              base_url=BASE))
    assert check.status == 200 and check.body["token"]["project"]["id"] == uc.project_id


def test_unscoped_password_token_has_no_catalog(uc: Keystone) -> None:
    body = password_body()
    del body["auth"]["scope"]
    status, resp, _ = post_token(uc, body)
    assert status == 201 and "catalog" not in resp["token"] and "project" not in resp["token"]


def test_a_member_reads_their_own_project_and_no_other(uc: Keystone) -> None:
    _, _, headers = post_token(uc, password_body())
    auth = {"x-auth-token": headers["X-Subject-Token"]}

    def get(path: str, token: dict[str, str] = auth) -> tuple[int, dict]:
        resp = uc.handle(Request("GET", path, headers=token, base_url=BASE))
        return resp.status, resp.body

    status, body = get(f"/v3/projects/{uc.project_id}")
    assert status == 200 and body["project"]["name"] == PROJECT_NAME and body["project"]["domain_id"] == "default"
    assert body["project"]["links"]["self"] == f"{BASE}/uc/identity/v3/projects/{uc.project_id}"
    status, body = get("/v3/auth/projects")
    assert status == 200 and [p["id"] for p in body["projects"]] == [uc.project_id]
    assert get(f"/v3/users/{uc.user_id}/projects")[1]["projects"][0]["name"] == PROJECT_NAME
    status, body = get(f"/v3/projects/{'0' * 32}")
    assert status == 403 and body["error"]["message"] == (
        "You are not authorized to perform the requested action: identity:get_project.")
    assert get("/v3/projects")[0] == 403
    assert get(f"/v3/projects/{uc.project_id}", {})[0] == 401
    tacc = Keystone("CHI@TACC", "tacc")
    assert tacc.handle(Request("GET", "/v3/auth/projects", headers=auth, base_url=BASE)).status == 401
