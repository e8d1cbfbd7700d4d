"""Nova's error type and fault body, shared by the keypair, server and routing modules.

Kept apart so `nova_keypairs` and `nova_servers` can raise the same error `nova` turns into a
response without importing the router (which imports them).
"""

from __future__ import annotations

from chameleon_twin.http import Response, json_response

# The fault key Nova wraps each error body in; anything unlisted is a generic computeFault.
_FAULT_KEYS = {400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound", 405: "badMethod",
               409: "conflictingRequest", 429: "overLimit", 501: "notImplemented", 503: "serviceUnavailable"}


class NovaError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def nova_error(status: int, message: str) -> Response:
    return json_response(status, {_FAULT_KEYS.get(status, "computeFault"): {"code": status, "message": message}})
