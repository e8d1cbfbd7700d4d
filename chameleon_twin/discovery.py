"""The twin's resource discovery API (api.chameleoncloud.org), for CHI@UC, CHI@TACC and CHI@NCAR.

Grid'5000-style REST as served by ChameleonCloud/reference_api_v2: every object carries
`version` (the reference-repository sha) and `links`; collections are
`{"total", "offset", "items", "version", "links"}` and page with `?offset=&limit=` (default and
maximum limit 500). A `.json` suffix is accepted anywhere, as python-chi always adds it. No
authentication, as on Chameleon. Unknown paths answer a JSON 404.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chameleon_twin import inventory
from chameleon_twin.http import Request, Response, json_response

PAGE_LIMIT = 500
CLUSTER = "chameleon"  # every bare-metal site has exactly one cluster
# The inventory's commit date (2026-06-26), reported as the root document's timestamp.
_TIMESTAMP = str(int(datetime(2026, 6, 26, tzinfo=UTC).timestamp()))


class _NotFound(Exception):
    pass


def _error(status: int, title: str, message: str) -> Response:
    return json_response(status, {"code": status, "title": title, "message": message})


class DiscoveryService:
    def __init__(self) -> None:
        self._sites = {rec["uid"]: rec for rec in inventory.site_records()}
        self._nodes = {uid: inventory.node_records(uid) for uid in self._sites}
        self._by_uid = {uid: {n["uid"]: n for n in nodes} for uid, nodes in self._nodes.items()}

    def handle(self, req: Request) -> Response:
        if req.method not in ("GET", "HEAD"):
            return _error(405, "Method Not Allowed", f"{req.method} is not supported; this API is read-only")
        path = req.path.split("?", 1)[0]
        if path.endswith(".json"):
            path = path[: -len(".json")]
        parts = [p for p in path.split("/") if p]
        try:
            if parts and parts[-1] == "versions":
                history = [self._version_item(parts[:-1])]
                return json_response(200, self._collection("/" + "/".join(parts), history, req))
            if len(parts) >= 2 and parts[-2] == "versions":
                if parts[-1] != inventory.version():
                    raise _NotFound(f"version {parts[-1]!r} not found")
                return json_response(200, self._version_item(parts[:-2]))
            return json_response(200, self._route(parts, req))
        except _NotFound as exc:
            return _error(404, "Not Found", str(exc))
        except ValueError as exc:
            return _error(400, "Bad Request", str(exc))

    def _route(self, parts: list[str], req: Request) -> dict[str, Any]:
        if not parts:
            return self._root()
        if parts[0] != "sites":
            raise _NotFound(f"no resource at /{'/'.join(parts)}")
        if len(parts) == 1:
            return self._collection("/sites", list(self._sites.values()), req)
        site = self._sites.get(parts[1])
        if site is None:
            raise _NotFound(f"site {parts[1]!r} not found")
        sid = site["uid"]
        if len(parts) == 2:
            return site
        if parts[2] != "clusters":
            raise _NotFound(f"no resource at /{'/'.join(parts)}")
        if len(parts) == 3:
            return self._collection(f"/sites/{sid}/clusters", [self._cluster(sid)], req)
        if parts[3] != CLUSTER:
            raise _NotFound(f"cluster {parts[3]!r} not found in site {sid!r}")
        if len(parts) == 4:
            return self._cluster(sid)
        if parts[4] != "nodes" or len(parts) > 6:
            raise _NotFound(f"no resource at /{'/'.join(parts)}")
        if len(parts) == 5:
            return self._collection(f"/sites/{sid}/clusters/{CLUSTER}/nodes", self._nodes[sid], req)
        node = self._by_uid[sid].get(parts[5])
        if node is None:
            raise _NotFound(f"node {parts[5]!r} not found in site {sid!r}")
        return node

    def _root(self) -> dict[str, Any]:
        return {"type": "grid", "uid": "chameleoncloud", "version": inventory.version(), "timestamp": _TIMESTAMP,
                "links": [{"rel": "sites", "href": "/sites"}, {"rel": "self", "href": "/"},
                          {"rel": "parent", "href": "/"}, {"rel": "versions", "href": "/versions"}]}

    def _cluster(self, sid: str) -> dict[str, Any]:
        base = f"/sites/{sid}/clusters/{CLUSTER}"
        return {"uid": CLUSTER, "type": "cluster", "version": inventory.version(),
                "links": [{"rel": "self", "href": base}, {"rel": "parent", "href": f"/sites/{sid}"},
                          {"rel": "nodes", "href": f"{base}/nodes"}, {"rel": "versions", "href": f"{base}/versions"},
                          {"rel": "version", "href": f"{base}/versions/{inventory.version()}"}]}

    def _version_item(self, parts: list[str]) -> dict[str, Any]:
        if parts:
            self._route(parts, Request("GET", "/"))  # 404 when the versioned resource does not exist
        base = "/" + "/".join(parts) if parts else ""
        sha = inventory.version()
        return {"uid": sha, "type": "version", "date": "Fri, 26 Jun 2026 00:00:00 GMT",
                "message": "Chameleon reference repository snapshot", "author": "Chameleon",
                "links": [{"rel": "self", "href": f"{base}/versions/{sha}"}, {"rel": "parent", "href": base or "/"}]}

    def _collection(self, self_href: str, items: list[dict[str, Any]], req: Request) -> dict[str, Any]:
        offset = _int_arg(req, "offset", 0)
        limit = min(_int_arg(req, "limit", PAGE_LIMIT), PAGE_LIMIT)
        parent = self_href.rsplit("/", 1)[0] or "/"
        return {"total": len(items), "offset": offset, "items": items[offset:offset + limit],
                "version": inventory.version(),
                "links": [{"rel": "self", "href": self_href}, {"rel": "parent", "href": parent}]}


def _int_arg(req: Request, name: str, default: int) -> int:
    raw = req.arg(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must not be negative")
    return value
