from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from chameleon_provision.cloud.key_manager import find_local_key, generate_key, read_public_key
from chameleon_provision.errors import InputError


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
