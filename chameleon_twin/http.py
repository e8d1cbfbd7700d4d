"""The twin's request/response records, shared by every service module.

Service modules never touch sockets: they take a Request and return a Response, so each one
can be tested without a server and the HTTP layer stays in one place (server.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # relative to the service's prefix, e.g. "/leases/abc" for Blazar
    query: dict[str, list[str]] = field(default_factory=dict)
    body: Any = None  # parsed JSON, or None
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names
    base_url: str = ""  # scheme://host:port the client used, for self links

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass(frozen=True)
class Response:
    status: int
    body: Any = None  # dict/list -> JSON; str -> text/plain; None -> empty
    headers: dict[str, str] = field(default_factory=dict)
    # Seconds the HTTP layer waits before sending the reply, outside every lock: a call that takes
    # that long on Chameleon (Blazar writing or destroying a lease) while other clients carry on.
    delay: float = 0.0


def json_response(status: int, body: Any, **headers: str) -> Response:
    return Response(status, body, dict(headers))


def no_content() -> Response:
    return Response(204, None)
