"""Fault injection and the twin's admin endpoint (`/_twin/...`, no auth; see docs/twin.md).

A fault rule fails the next `count` requests that match a method and a path, before any service
sees them, the way a flaky proxy or an overloaded API would. Paths match by prefix (`path`) or by
a regular expression searched in "path?query" (`path_regex`); the path is the full twin path,
e.g. `/uc/compute/v2.1/servers`.
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from chameleon_twin.http import Request, Response, json_response

if TYPE_CHECKING:
    from chameleon_twin.app import TwinApp

_HAPROXY = {  # what Chameleon's load balancer answers when a backend is down or rate-limiting
    503: "<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n"
         "</body></html>\n",
    429: "<html><body><h1>429 Too Many Requests</h1>\nYou have sent too many requests in a given amount of time.\n"
         "</body></html>\n",
}


def default_body(status: int, path: str) -> Any:
    """The body the real service (or the proxy in front of it) sends with this status."""
    if status in _HAPROXY:
        return _HAPROXY[status]
    service = path.split("/")[2] if path.count("/") >= 2 else ""
    if service == "compute":
        return {"computeFault": {"code": status, "message": "Unexpected API Error. Please report this at "
                                 "http://bugs.launchpad.net/nova/ and attach the Nova API log if possible.\n"
                                 "<class 'oslo_db.exception.DBConnectionError'>"}}
    if service == "network":
        return {"NeutronError": {"type": "HTTPInternalServerError", "detail": "",
                                 "message": "Request Failed: internal server error while processing your request."}}
    if service == "reservation":
        return {"error_code": status, "error_message": "An unknown exception occurred", "error_name": status}
    if service == "identity":
        return {"error": {"code": status, "title": "Internal Server Error",
                          "message": "An unexpected error prevented the server from fulfilling your request."}}
    return f"{status} Internal Server Error\n\nThe server has either erred or is incapable of performing the " \
           "requested operation.\n"


@dataclass
class FaultRule:
    id: int
    method: str  # upper case, or "*"
    path: str | None
    path_regex: str | None
    status: int
    count: int  # requests still to fail
    body: Any = None
    retry_after: int | None = None
    hits: int = 0

    def matches(self, method: str, path: str, query: str) -> bool:
        if self.method not in ("*", method):
            return False
        if self.path is not None and not path.startswith(self.path):
            return False
        return self.path_regex is None or re.search(self.path_regex, f"{path}?{query}" if query else path) is not None


class FaultInjector:
    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, spec: Any) -> FaultRule:
        if not isinstance(spec, dict):
            raise ValueError("body must be a JSON object")
        status, count = spec.get("status", 500), spec.get("count", 1)
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status (400-599), e.g. 500, 503 or 429")
        if not isinstance(count, int) or count < 1:
            raise ValueError("count must be a positive integer")
        if spec.get("path") is None and spec.get("path_regex") is None:
            raise ValueError("give path (a prefix such as /uc/compute/v2.1/servers) or path_regex")
        if spec.get("path_regex") is not None:
            try:
                re.compile(spec["path_regex"])
            except (re.error, TypeError) as err:
                raise ValueError(f"path_regex does not compile: {err}") from None
        retry_after = spec.get("retry_after")
        if retry_after is not None and (not isinstance(retry_after, int) or retry_after < 0):
            raise ValueError("retry_after must be a non-negative integer (seconds)")
        rule = FaultRule(id=next(self._ids), method=str(spec.get("method", "*")).upper(), path=spec.get("path"),
                         path_regex=spec.get("path_regex"), status=status, count=count, body=spec.get("body"),
                         retry_after=retry_after)
        with self._lock:
            self._rules.append(rule)
        return rule

    def take(self, method: str, path: str, query: str) -> Response | None:
        """The injected reply for this request, if a rule matches (and use up one of its count)."""
        with self._lock:
            rule = next((r for r in self._rules if r.matches(method, path, query)), None)
            if rule is None:
                return None
            rule.count -= 1
            rule.hits += 1
            if rule.count == 0:
                self._rules.remove(rule)
        body = rule.body if rule.body is not None else default_body(rule.status, path)
        headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else {}
        if isinstance(body, str) and body.lstrip().startswith("<html"):
            headers["Content-Type"] = "text/html; charset=UTF-8"
        return Response(rule.status, body, headers)

    def rules(self) -> list[dict]:
        with self._lock:
            return [asdict(r) for r in self._rules]

    def remove(self, rule_id: int | None = None) -> int:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if rule_id is not None and r.id != rule_id]
            return before - len(self._rules)


ROUTES = [
    "GET /_twin/state", "POST /_twin/reset", "GET /_twin/clock", "POST /_twin/clock/advance {seconds}",
    "GET /_twin/faults", "POST /_twin/faults {method, path | path_regex, status, count, body, retry_after}",
    "DELETE /_twin/faults", "DELETE /_twin/faults/{id}", "POST /_twin/servers/{id}/error {message}",
    "POST /_twin/leases/{id}/error", "POST /_twin/leases/{id}/degrade {degraded}",
    "POST /_twin/exhaust {site, node_type | floating_ips: true | reserved_floating_ips: true}",
    "POST /_twin/sites/{site}/exhaust {node_type}", "POST /_twin/sites/{site}/floatingips/exhaust",
    "POST /_twin/sites/{site}/floatingips/reserved {size}", "POST /_twin/sites/{site}/quotas {floatingip}",
    "GET /_twin/projects/{name}/balance", "POST /_twin/projects/{name}/balance {allocated | left}",
]


def _error(status: int, message: str) -> Response:
    return json_response(status, {"error": message})


def _number(body: dict, key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} must be a number of SUs")
    return float(value)


class AdminService:
    """`/_twin/...`: the knobs tests and demos turn. Paths here are relative to `/_twin`."""

    def __init__(self, app: TwinApp) -> None:
        self.app = app

    def handle(self, req: Request) -> Response:
        try:
            return self._route(req)
        except (ValueError, TypeError) as err:
            return _error(400, str(err))

    def _route(self, req: Request) -> Response:
        app, method, path = self.app, req.method, req.path.rstrip("/")
        body = req.body if isinstance(req.body, dict) else {}
        if method == "GET" and path == "":
            return json_response(200, {"routes": ROUTES})
        if method == "GET" and path == "/state":
            return json_response(200, app.state())
        if method == "POST" and path == "/reset":
            app.reset()
            return json_response(200, {"reset": True, "now": app.clock.now().isoformat()})
        if path == "/clock" and method == "GET":
            return json_response(200, self._clock())
        if path == "/clock/advance" and method == "POST":
            seconds = body.get("seconds")
            if not isinstance(seconds, int | float) or seconds < 0:
                raise ValueError("seconds must be a non-negative number")
            app.clock.advance(float(seconds))
            return json_response(200, self._clock())
        if path == "/faults":
            if method == "GET":
                return json_response(200, {"faults": app.faults.rules()})
            if method == "POST":
                return json_response(201, {"fault": asdict(app.faults.add(req.body))})
            if method == "DELETE":
                return json_response(200, {"removed": app.faults.remove()})
        if (m := re.fullmatch(r"/faults/(\d+)", path)) and method == "DELETE":
            removed = app.faults.remove(int(m.group(1)))
            return json_response(200, {"removed": removed}) if removed else _error(404, "no such fault")
        if (m := re.fullmatch(r"/(servers|leases)/([^/]+)/error", path)) and method == "POST":
            kind, item = m.groups()
            message = str(body.get("message") or "Failure prepping block device.")
            done = any(site.nova.set_error(item, message) if kind == "servers" else site.blazar.set_lease_error(item)
                       for site in app.sites.values())
            return json_response(200, {kind[:-1]: item, "status": "ERROR"}) if done \
                else _error(404, f"no {kind[:-1]} {item} at any site")
        if (m := re.fullmatch(r"/leases/([^/]+)/degrade", path)) and method == "POST":
            degraded = bool(body.get("degraded", True))
            done = any(site.blazar.set_degraded(m.group(1), degraded) for site in app.sites.values())
            return json_response(200, {"lease": m.group(1), "degraded": degraded}) if done \
                else _error(404, f"no lease {m.group(1)} at any site")
        if method == "POST" and path == "/exhaust":
            return self._exhaust(str(body.get("site") or ""), body)
        if (m := re.fullmatch(r"/sites/([^/]+)/(exhaust|floatingips/exhaust)", path)) and method == "POST":
            return self._exhaust(m.group(1), {**body, "floating_ips": m.group(2) != "exhaust"})
        if (m := re.fullmatch(r"/sites/([^/]+)/(floatingips/reserved|quotas)", path)) and method == "POST":
            return self._site_limits(m.group(1), m.group(2), body)
        if (m := re.fullmatch(r"/projects/([^/]+)/balance", path)) and method in ("GET", "POST"):
            name = m.group(1)
            if method == "POST":
                app.balance.set_balance(name, allocated=_number(body, "allocated"), left=_number(body, "left"))
            return json_response(200, {"project": name, **app.balance.state(name)[name]})
        return _error(404 if method in ("GET", "POST", "DELETE") else 405, f"no admin route {method} /_twin{path}")

    def _exhaust(self, site_ref: str, body: dict) -> Response:
        """No free node of `node_type` at the site, or (`floating_ips: true`) no ad-hoc address left."""
        site = self.app.site(site_ref)
        if site is None:
            return _error(404, f"unknown site {site_ref!r}; the twin has {', '.join(self.app.sites)}")
        if body.get("floating_ips"):
            return json_response(200, {"site": site.name, "allocated": site.neutron.exhaust_adhoc_pool()})
        if body.get("reserved_floating_ips"):
            return self._site_limits(site.name, "floatingips/reserved", {"size": 0})
        node_type = body.get("node_type")
        if not isinstance(node_type, str) or not node_type:
            raise ValueError("node_type is required (or floating_ips: true)")
        return json_response(200, {"site": site.name, "node_type": node_type, "hosts": site.blazar.exhaust(node_type)})

    def _site_limits(self, site_ref: str, what: str, body: dict) -> Response:
        """The size of Blazar's reservable floating IP pool, or the project's Neutron floating IP quota."""
        site = self.app.site(site_ref)
        if site is None:
            return _error(404, f"unknown site {site_ref!r}; the twin has {', '.join(self.app.sites)}")
        key = "size" if what == "floatingips/reserved" else "floatingip"
        value = body.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{key} must be a non-negative integer")
        if what == "quotas":
            site.neutron.floatingip_quota[site.keystone.project_id] = value
            return json_response(200, {"site": site.name, "project_id": site.keystone.project_id,
                                       "floatingip": value})
        if site.blazar.fips is None:
            return _error(404, f"{site.name} has no reservable floating IPs")
        return json_response(200, {"site": site.name, "reserved_pool": site.blazar.fips.resize(value)})

    def _clock(self) -> dict:
        clock = self.app.clock
        return {"now": clock.now().isoformat(), "speed": clock.speed}
