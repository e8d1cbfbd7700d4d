"""SSH key: reuse the Nova keypair that matches the local public key, else upload it, else make one.

Keypairs are named after the key's fingerprint, so every run with the same key shares one
keypair and none is ever created twice; they cost nothing, so teardown leaves them in place.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chameleon_provision.cloud.operations import Cloud
from chameleon_provision.errors import InputError, OpenStackError
from chameleon_provision.state.files import folder_lock
from chameleon_provision.state.recorder import Recorder

log = logging.getLogger(__name__)
DEFAULT_KEYS = ("~/.ssh/id_ed25519.pub", "~/.ssh/id_rsa.pub", "~/.ssh/id_ecdsa.pub")
_KEY_LINE = re.compile(r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp\d+)\s+([A-Za-z0-9+/=]+)(\s.*)?$")


@dataclass(frozen=True)
class LocalKey:
    public_path: Path
    private_path: Path | None
    public_key: str  # "type base64" without the comment
    fingerprint: str  # Nova's: MD5 of the key blob, colon-separated hex

    @property
    def keypair_name(self) -> str:
        user = re.sub(r"[^A-Za-z0-9_-]", "", getpass.getuser())[:20] or "user"
        return f"provision-{user}-{self.fingerprint.replace(':', '')[:12]}"


@dataclass(frozen=True)
class KeyDecision:
    keypair_name: str
    action: str  # reuse | upload | generate
    local: LocalKey | None
    reason: str


def read_public_key(path: Path) -> LocalKey:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError as exc:
        raise InputError(f"cannot read public key {path}: {exc.strerror}", hint="pass --public-key PATH") from exc
    public_key, fingerprint = parse_key_line(text.splitlines()[0] if text else "", str(path))
    private = path.with_suffix("") if path.suffix == ".pub" else None
    return LocalKey(public_path=path, private_path=private if private and private.exists() else None,
                    public_key=public_key, fingerprint=fingerprint)


def parse_key_line(line: str, where: str) -> tuple[str, str]:
    """('type base64', Nova's fingerprint: MD5 of the key blob as colon-separated hex)."""
    match = _KEY_LINE.match(line.strip())
    if not match:
        raise InputError(f"{where} is not an OpenSSH public key", hint="pass the .pub file, e.g. ~/.ssh/id_ed25519.pub")
    try:
        blob = base64.b64decode(match.group(2), validate=True)
    except ValueError as exc:
        raise InputError(f"{where} has a damaged key (bad base64)") from exc
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return f"{match.group(1)} {match.group(2)}", ":".join(digest[i:i + 2] for i in range(0, 32, 2))


def find_local_key(explicit: Path | None, key_dir: Path | None = None) -> LocalKey | None:
    """--public-key, else ~/.ssh's usual keys, else a key this tool generated on an earlier run."""
    if explicit is not None:
        if not explicit.exists():
            raise InputError(f"public key {explicit} does not exist", hint="pass an existing .pub file to --public-key")
        return read_public_key(explicit)
    for candidate in DEFAULT_KEYS:
        path = Path(candidate).expanduser()
        if path.exists():
            return read_public_key(path)
    generated = sorted(key_dir.glob("id_ed25519_*.pub")) if key_dir and key_dir.is_dir() else []
    return read_public_key(generated[0]) if generated else None


def generate_key(directory: Path) -> LocalKey:
    """A new ed25519 key pair under the state directory; the private half is written 0600."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    private_bytes = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                      serialization.NoEncryption())
    public_line = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    _, fingerprint = parse_key_line(public_line.decode(), "the generated key")
    private_path = directory / f"id_ed25519_{fingerprint.replace(':', '')[:12]}"
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private_bytes)
    os.chmod(private_path, 0o600)  # umask or an existing file could have left wider bits
    public_path = private_path.with_suffix(".pub")
    public_path.write_text(public_line.decode() + " chameleon-provision\n", encoding="utf-8")
    return read_public_key(public_path)


def decide_key(cloud: Cloud, explicit: Path | None, key_dir: Path | None = None) -> KeyDecision:
    """What to do about the SSH key; reads the cloud, creates nothing."""
    local = find_local_key(explicit, key_dir)
    if local is None:
        return KeyDecision("(generated)", "generate", None, "no local public key found; a new ed25519 key will be made")
    for keypair in cloud.keypairs():
        if keypair.fingerprint == local.fingerprint:
            return KeyDecision(keypair.name, "reuse", local, f"keypair {keypair.name} matches {local.public_path}")
    return KeyDecision(local.keypair_name, "upload", local,
                       f"{local.public_path} will be uploaded as {local.keypair_name}")


@dataclass(frozen=True)
class ReadyKey:
    keypair_name: str
    private_path: Path | None


def ensure_keypair(cloud: Cloud, decision: KeyDecision, recorder: Recorder, site: str, key_dir: Path) -> ReadyKey:
    """Carry out a KeyDecision: reuse, upload the local key, or generate one and upload it.

    Runs that share a state directory take turns here (a file lock), and each looks again once it has
    the lock: eight runs started together without a local key make one key and one keypair, not eight.
    """
    local = decision.local
    if decision.action == "reuse" and local is not None:
        recorder.note("keypair", decision.keypair_name, site, decision.keypair_name, "kept")
        return ReadyKey(decision.keypair_name, local.private_path)
    with folder_lock(key_dir):
        local = local or find_local_key(None, key_dir) or generate_key(key_dir)
        existing = next((k for k in cloud.keypairs() if k.fingerprint == local.fingerprint), None)
        if existing is not None:  # another run uploaded it while this one waited
            recorder.note("keypair", existing.name, site, existing.name, "kept")
            return ReadyKey(existing.name, local.private_path)
        name = local.keypair_name
        try:
            with recorder.creating("keypair", name, site) as confirm:
                created = cloud.keypair_create(name, str(local.public_path))
                confirm(created.name, status="kept", fingerprint=created.fingerprint)  # shared by later runs
        except OpenStackError:
            # Another machine of the same user may have won the race for this name: the same key is fine.
            same = next((k for k in cloud.keypairs() if k.name == name and k.fingerprint == local.fingerprint), None)
            if same is None:
                raise
            return ReadyKey(same.name, local.private_path)
    return ReadyKey(created.name, local.private_path)


