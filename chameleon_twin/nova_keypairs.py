"""Nova keypairs for one twin site: per-user records in 2.10+ shapes and Nova's MD5 fingerprint.

Served under `/v2.1/os-keypairs`; `nova.Nova` routes here and looks keys up at server create.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Any

from chameleon_twin.clock import Clock
from chameleon_twin.http import Response, json_response, no_content
from chameleon_twin.nova_errors import NovaError

KEY_TYPES = ("ssh-rsa", "ssh-ed25519", "ssh-dss", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521")
_KEY_NAME = re.compile(r"^[a-zA-Z0-9 @._-]{1,255}$")  # 2.92+ rule


def fingerprint(public_key: str) -> str:
    """Nova's keypair fingerprint: MD5 of the decoded key blob, colon-separated hex."""
    fields = public_key.split()
    if len(fields) < 2 or fields[0] not in KEY_TYPES:
        raise NovaError(400, "Keypair data is invalid: failed to generate fingerprint")
    try:
        blob = base64.b64decode(fields[1], validate=True)
    except (binascii.Error, ValueError):
        raise NovaError(400, "Keypair data is invalid: failed to generate fingerprint") from None
    # The blob starts with the length-prefixed key type; a mismatch means a corrupt key.
    if blob[4:4 + int.from_bytes(blob[:4], "big")] != fields[0].encode():
        raise NovaError(400, "Keypair data is invalid: failed to generate fingerprint")
    digest = hashlib.md5(blob).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, 32, 2))


class Keypairs:
    """Nova keypairs (2.10 shapes), owned per user. Keys arrive generated: Nova never makes one here."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.items: dict[tuple[str, str], dict] = {}
        self._next_id = 0

    def get(self, user: str, name: str) -> dict | None:
        return self.items.get((user, name))

    def state(self) -> list[dict]:
        return list(self.items.values())

    def handle(self, method: str, rest: list[str], body: Any, user: str) -> Response:
        if rest == [] and method == "GET":
            return json_response(200, {"keypairs": [
                {"keypair": {k: kp[k] for k in ("name", "public_key", "fingerprint", "type")}}
                for (owner, _), kp in sorted(self.items.items()) if owner == user]})
        if rest == [] and method == "POST":
            return json_response(201, {"keypair": self._create(body, user)})
        if len(rest) != 1:
            raise NovaError(404, "The resource could not be found.")
        keypair = self.items.get((user, rest[0]))
        if keypair is None:
            raise NovaError(404, f"Keypair {rest[0]} not found for user {user}")
        if method == "GET":
            return json_response(200, {"keypair": keypair})
        if method == "DELETE":
            del self.items[(user, rest[0])]
            return no_content()
        raise NovaError(405, "The method specified is not allowed for this resource.")

    def _create(self, body: Any, user: str) -> dict:
        spec = body.get("keypair") if isinstance(body, dict) else None
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise NovaError(400, "Invalid input for field/attribute keypair. Value: None. 'name' is a required "
                                 "property")
        name, public_key = spec["name"], spec.get("public_key")
        if not _KEY_NAME.match(name):
            raise NovaError(400, f"Invalid input for field/attribute name. Value: {name}. '{name}' does not "
                                 "match '^[a-zA-Z0-9 @._-]+$'")
        if not isinstance(public_key, str):
            # Since 2.92 Nova refuses to generate keys; the CLI always sends one.
            raise NovaError(400, f"Invalid input for field/attribute keypair. Value: {spec}. 'public_key' is "
                                 "a required property")
        if spec.get("type", "ssh") != "ssh":
            raise NovaError(400, "Keypair data is invalid: only ssh keys are supported by the twin")
        if (user, name) in self.items:
            raise NovaError(409, f"Key pair '{name}' already exists.")
        self._next_id += 1
        keypair = {"name": name, "public_key": public_key.strip(), "fingerprint": fingerprint(public_key),
                   "type": "ssh", "user_id": user, "created_at": self.clock.now().strftime("%Y-%m-%dT%H:%M:%S.%f"),
                   "deleted": False, "deleted_at": None, "updated_at": None, "id": self._next_id}
        self.items[(user, name)] = keypair
        return {k: keypair[k] for k in ("name", "public_key", "fingerprint", "type", "user_id", "created_at")}
