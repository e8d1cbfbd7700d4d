"""Keystone v3 for one twin site: version documents, token issue, stateless token checks, and the
project a member may read.

Tokens carry their own claims and an HMAC under a fixed twin secret, so a token issued before a
twin restart is still accepted afterwards (the CLI may cache tokens), and no token table grows.

A project member may read their own project (`GET /v3/projects/{id}`, which python-chi's
`get_project_name()` calls and `openstack project show` uses) and list the projects they can
scope to (`GET /v3/auth/projects`, `GET /v3/users/{own id}/projects`); any other project is
Keystone's policy refusal, a 403.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from chameleon_twin.http import Request, Response, json_response

TOKEN_SECRET = b"chameleon-twin/token-signing-key/v1"
TOKEN_LIFETIME_SECONDS = 24 * 3600
ID_NAMESPACE = uuid.UUID("5b1f3c52-7a43-4f0e-9d7a-2f0c6b9e1a11")

USERNAME = "twin-user"
PASSWORD = "twin-password"
PROJECT_NAME = "CHI-000000"
DOMAIN = {"id": "default", "name": "Default"}
APP_CREDENTIAL_NAME = "twin-appcred"

UNAUTHORIZED = {"error": {"code": 401, "message": "The request you have made requires authentication.",
                          "title": "Unauthorized"}}
PROJECT_DESCRIPTION = "Chameleon twin project"
SERVICES = (  # (type, name, path under the site prefix)
    ("identity", "keystone", "/identity/v3"),
    ("compute", "nova", "/compute/v2.1"),
    ("image", "glance", "/image"),
    ("network", "neutron", "/network"),
    ("reservation", "blazar", "/reservation/v1"),
)


def stable_id(*parts: str) -> str:
    """A 32-hex Keystone-style id that is the same on every twin run."""
    return uuid.uuid5(ID_NAMESPACE, "/".join(parts)).hex


def app_credential(site_uid: str) -> tuple[str, str]:
    """(id, secret) of the site's one application credential."""
    return stable_id(site_uid, "application_credential"), f"twin-appcred-secret-{site_uid}"


@dataclass(frozen=True)
class TokenInfo:
    site: str
    user_id: str
    project_id: str
    methods: tuple[str, ...]
    issued: int
    expires: int
    audit_id: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(payload: str) -> str:
    return _b64(hmac.new(TOKEN_SECRET, payload.encode(), hashlib.sha256).digest())


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def version_doc(base: str) -> dict:
    return {"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
            "links": [{"rel": "self", "href": f"{base}/v3/"}],
            "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]}


class Keystone:
    """Identity for one site. Handles paths relative to `/{site}/identity`."""

    def __init__(self, site: str, site_uid: str) -> None:
        self.site = site
        self.uid = site_uid
        self.user_id = stable_id(site_uid, "user", USERNAME)
        self.project_id = stable_id(site_uid, "project", PROJECT_NAME)
        self.app_cred_id, self.app_cred_secret = app_credential(site_uid)

    # --- tokens -------------------------------------------------------------------------

    def issue(self, methods: tuple[str, ...], scoped: bool = True) -> str:
        now = int(time.time())
        claims = [self.uid, self.user_id, self.project_id if scoped else "", ",".join(methods),
                  now, now + TOKEN_LIFETIME_SECONDS, _b64(secrets.token_bytes(16))]
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{payload}.{_sign(payload)}"

    def verify(self, token: str | None) -> TokenInfo | None:
        """The token's claims if it is genuine, unexpired and issued by this site's Keystone."""
        if not token or "." not in token:
            return None
        payload, _, signature = token.partition(".")
        if not hmac.compare_digest(signature, _sign(payload)):
            return None
        try:
            site, user, project, methods, issued, expires, audit = json.loads(_unb64(payload))
        except (ValueError, TypeError):
            return None
        if site != self.uid or expires < time.time():
            return None
        return TokenInfo(site, user, project, tuple(methods.split(",")), issued, expires, audit)

    def project_name(self, project_id: str) -> str:
        return PROJECT_NAME if project_id == self.project_id else ""

    def project_record(self, base: str) -> dict:
        return {"id": self.project_id, "name": PROJECT_NAME, "domain_id": DOMAIN["id"],
                "description": PROJECT_DESCRIPTION, "enabled": True, "parent_id": DOMAIN["id"], "is_domain": False,
                "tags": [], "options": {}, "links": {"self": f"{base}/v3/projects/{self.project_id}"}}

    # --- HTTP ---------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        base = f"{req.base_url}/{self.uid}/identity"
        path = req.path.rstrip("/")
        if req.method == "GET" and path == "":
            return json_response(300, {"versions": {"values": [version_doc(base)]}})
        if req.method == "GET" and path == "/v3":
            return json_response(200, {"version": version_doc(base)})
        if path == "/v3/auth/tokens":
            if req.method == "POST":
                return self._authenticate(req, base)
            if req.method in ("GET", "HEAD"):
                return self._validate(req, base)
        if req.method == "GET" and (path in ("/v3/auth/projects", "/v3/projects")
                                    or path.startswith(("/v3/projects/", "/v3/users/"))):
            return self._projects(req, base, path)
        return _not_found()

    def _projects(self, req: Request, base: str, path: str) -> Response:
        """What a member may read about projects: their own, and the list they can scope to."""
        token = self.verify(req.headers.get("x-auth-token"))
        if token is None:
            return json_response(401, UNAUTHORIZED)
        listing = {"projects": [self.project_record(base)],
                   "links": {"self": f"{base}{path}", "previous": None, "next": None}}
        if path == "/v3/auth/projects":  # any valid token, scoped or not
            return json_response(200, listing)
        if path == f"/v3/users/{token.user_id}/projects":
            return json_response(200, listing)
        if path == f"/v3/projects/{self.project_id}" and token.project_id == self.project_id:
            return json_response(200, {"project": self.project_record(base)})
        action = "list_projects" if path == "/v3/projects" else \
            "list_user_projects" if path.startswith("/v3/users/") else "get_project"
        return json_response(403, {"error": {"code": 403, "title": "Forbidden",
                                             "message": "You are not authorized to perform the requested "
                                                        f"action: identity:{action}."}})

    def _authenticate(self, req: Request, base: str) -> Response:
        auth = req.body.get("auth") if isinstance(req.body, dict) else None
        identity = auth.get("identity") if isinstance(auth, dict) else None
        if not isinstance(identity, dict) or not isinstance(identity.get("methods"), list):
            return json_response(400, {"error": {"code": 400, "title": "Bad Request",
                                                 "message": "Invalid input for field 'identity': 'methods' "
                                                            "is a required property"}})
        methods = tuple(identity["methods"])
        scope = auth.get("scope") if isinstance(auth, dict) else None
        if methods == ("password",) and self._password_ok(identity.get("password")):
            scoped = self._scope_ok(scope)
            if scoped is None:
                return json_response(401, UNAUTHORIZED)
        elif methods == ("application_credential",) and self._app_cred_ok(identity.get("application_credential")):
            scoped = True  # an application credential is bound to its project
        elif methods == ("token",) and self.verify((identity.get("token") or {}).get("id")):
            scoped = bool(self._scope_ok(scope))
        else:
            return json_response(401, UNAUTHORIZED)
        token = self.issue(methods, scoped)
        info = self.verify(token)
        assert info is not None
        return json_response(201, {"token": self.token_body(info, base)}, **{"X-Subject-Token": token})

    def _validate(self, req: Request, base: str) -> Response:
        if self.verify(req.headers.get("x-auth-token")) is None:
            return json_response(401, UNAUTHORIZED)
        info = self.verify(req.headers.get("x-subject-token"))
        if info is None:
            return json_response(404, {"error": {"code": 404, "title": "Not Found",
                                                 "message": "Could not find token."}})
        return json_response(200, {"token": self.token_body(info, base)},
                             **{"X-Subject-Token": req.headers["x-subject-token"]})

    def _password_ok(self, password: object) -> bool:
        user = password.get("user") if isinstance(password, dict) else None
        if not isinstance(user, dict) or user.get("password") != PASSWORD:
            return False
        if user.get("id") is not None:
            return user["id"] == self.user_id
        return user.get("name") == USERNAME and _domain_ok(user.get("domain"))

    def _app_cred_ok(self, cred: object) -> bool:
        if not isinstance(cred, dict) or cred.get("secret") != self.app_cred_secret:
            return False
        if cred.get("id") is not None:
            return cred["id"] == self.app_cred_id
        user = cred.get("user") or {}
        named_user = user.get("id") == self.user_id or user.get("name") == USERNAME
        return cred.get("name") == APP_CREDENTIAL_NAME and named_user

    def _scope_ok(self, scope: object) -> bool | None:
        """True for our project, False for an unscoped request, None for any other scope."""
        if not scope:
            return False
        project = scope.get("project") if isinstance(scope, dict) else None
        if not isinstance(project, dict):
            return None
        if project.get("id") is not None:
            return True if project["id"] == self.project_id else None
        return True if project.get("name") == PROJECT_NAME and _domain_ok(project.get("domain")) else None

    def token_body(self, info: TokenInfo, base: str) -> dict:
        body: dict = {
            "methods": list(info.methods),
            "user": {"id": info.user_id, "name": USERNAME, "domain": dict(DOMAIN), "password_expires_at": None},
            "audit_ids": [info.audit_id],
            "expires_at": _iso(info.expires),
            "issued_at": _iso(info.issued),
        }
        if info.project_id:
            body["project"] = {"id": info.project_id, "name": PROJECT_NAME, "domain": dict(DOMAIN)}
            body["is_domain"] = False
            body["roles"] = [{"id": stable_id("role", name), "name": name} for name in ("member", "reader")]
            body["catalog"] = self.catalog(base.rsplit("/identity", 1)[0])
        if "application_credential" in info.methods:
            body["application_credential"] = {"id": self.app_cred_id, "name": APP_CREDENTIAL_NAME,
                                              "restricted": False}
        return body

    def catalog(self, site_base: str) -> list[dict]:
        entries = []
        for kind, name, path in SERVICES:
            endpoints = [{"id": stable_id(self.uid, kind, interface), "interface": interface,
                          "region_id": self.site, "region": self.site, "url": f"{site_base}{path}"}
                         for interface in ("public", "internal", "admin")]
            entries.append({"id": stable_id(self.uid, kind), "type": kind, "name": name, "endpoints": endpoints})
        return entries


def _not_found() -> Response:
    return json_response(404, {"error": {"code": 404, "message": "The resource could not be found.",
                                         "title": "Not Found"}})


def _domain_ok(domain: object) -> bool:
    if not isinstance(domain, dict):
        return False
    return domain.get("id") == DOMAIN["id"] or domain.get("name") == DOMAIN["name"]
