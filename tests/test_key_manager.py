from __future__ import annotations

import shutil
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from chameleon_provision.cloud.key_manager import (
    KeyDecision,
    ensure_keypair,
    find_local_key,
    generate_key,
    parse_key_line,
    read_public_key,
)
from chameleon_provision.cloud.operations import Keypair
from chameleon_provision.errors import InputError, OpenStackError
from chameleon_provision.state.recorder import Recorder
from chameleon_provision.state.store import StateStore


def test_generated_private_key_is_0600_and_reused(tmp_path: Path) -> None:
    key = generate_key(tmp_path / "keys")
    assert key.private_path is not None
    assert stat.S_IMODE(key.private_path.stat().st_mode) == 0o600
    assert key.public_key.startswith("ssh-ed25519 ")
    again = find_local_key(None, tmp_path / "keys")
    assert again is not None and again.fingerprint == key.fingerprint


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen not installed")
def test_fingerprint_matches_ssh_keygen_md5(tmp_path: Path) -> None:
    key = generate_key(tmp_path)
    out = subprocess.run(["ssh-keygen", "-l", "-E", "md5", "-f", str(key.public_path)], capture_output=True,
                         text=True, check=True).stdout
    assert f"MD5:{key.fingerprint}" in out


def test_default_key_from_home_and_bad_keys(tmp_path: Path, isolated_env: Path) -> None:
    assert find_local_key(None) is None
    ssh = isolated_env / ".ssh"
    ssh.mkdir()
    src = generate_key(tmp_path)
    (ssh / "id_ed25519.pub").write_text(src.public_path.read_text())
    assert find_local_key(None).fingerprint == src.fingerprint  # type: ignore[union-attr]
    bad = tmp_path / "bad.pub"
    bad.write_text("not a key")
    with pytest.raises(InputError, match="not an OpenSSH public key"):
        read_public_key(bad)
    with pytest.raises(InputError, match="does not exist"):
        find_local_key(tmp_path / "missing.pub")


class SharedCloud:
    """One project's keypairs, shared by concurrent runs; a duplicate name is refused as Nova does."""

    def __init__(self) -> None:
        self.pairs: list[Keypair] = []
        self.lock = threading.Lock()
        self.creates = 0

    def keypairs(self) -> list[Keypair]:
        with self.lock:
            return list(self.pairs)

    def keypair_create(self, name: str, public_key_file: str) -> Keypair:
        time.sleep(0.01)  # widen the window a race would need
        with self.lock:
            self.creates += 1
            if any(k.name == name for k in self.pairs):
                raise OpenStackError(f"Key pair '{name}' already exists. (HTTP 409)", returncode=1)
            _, fingerprint = parse_key_line(Path(public_key_file).read_text().splitlines()[0], public_key_file)
            self.pairs.append(Keypair(name, fingerprint))
            return self.pairs[-1]


def test_eight_concurrent_runs_without_a_key_make_one_key_and_one_keypair(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    cloud = SharedCloud()
    decision = KeyDecision("(generated)", "generate", None, "no local key")
    results: list[str] = []

    def one_run(i: int) -> None:
        store.new_run(f"r{i}", source="./repo", commit_sha=None, site="CHI@UC", mode="provision")
        ready = ensure_keypair(cloud, decision, Recorder(store, f"r{i}"), "CHI@UC", tmp_path / "keys")  # type: ignore[arg-type]
        results.append(ready.keypair_name)

    threads = [threading.Thread(target=one_run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and len(set(results)) == 1
    assert len(cloud.pairs) == 1 and cloud.creates == 1
    assert len(list((tmp_path / "keys").glob("id_ed25519_*.pub"))) == 1
