"""Blazar's error replies: `{"error_code": N, "error_message": "...", "error_name": N}`.

The CLI prints `ERROR: <error_message>` for any status >= 400, so the message text is what users
see; the texts in this package are Chameleon's (ChameleonCloud/blazar, chameleoncloud/2023.1).
"""

from __future__ import annotations

from chameleon_twin.http import Response, json_response


class BlazarError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self) -> Response:
        return error_response(self.status, self.message)


def error_response(status: int, message: str) -> Response:
    return json_response(status, {"error_code": status, "error_message": message, "error_name": status})


def not_found(key: str, value: str) -> BlazarError:
    """Blazar's check_exists 404: "Object with {'lease_id': '...'} not found"."""
    return BlazarError(404, f"Object with {({key: value})!r} not found")


def missing_parameter(*names: str) -> BlazarError:
    return BlazarError(400, f"Missing parameter {', '.join(names)}")


def malformed_parameter(name: str) -> BlazarError:
    return BlazarError(400, f"Malformed parameter {name}")
