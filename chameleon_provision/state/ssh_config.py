"""`ssh RUN-NAME`: one `Host` block per live run in a file of ours, included from the user's ~/.ssh/config.

Our file (`<state>/ssh/config`) holds only blocks this tool wrote, each between marker comments naming
its run, so a run's block can be replaced or removed without parsing the rest of OpenSSH's grammar. It
is rewritten whole (temporary file + rename) under a lock, so parallel runs never lose each other's
blocks and a reader never sees half a file. Each run gets its own known-hosts file: bare-metal nodes
are reinstalled between leases and the same address comes back with a new host key, which would trip
a shared known_hosts.

The user's ~/.ssh/config is touched only to add one `Include` line at its top (an Include after a
`Host` line would only apply inside that block), once, and only with the user's consent.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

from chameleon_provision.state.files import folder_lock, write_atomic

_BEGIN = "# >>> provision run {run_id}"
_END = "# <<< provision run {run_id}"
_BLOCK = re.compile(r"^# >>> provision run (?P<run>\S+)\n.*?^# <<< provision run (?P=run)\n", re.M | re.S)
_HEADER = ("# Written by chameleon-provision: one Host block per live run. `provision destroy RUN` removes\n"
           "# a run's block; edits here are overwritten.\n")


@dataclass(frozen=True)
class HostEntry:
    run_id: str
    name: str  # the Host alias: the run's name
    address: str
    identity_file: Path | None  # None: the user's own key (agent or ssh's defaults)
    known_hosts: Path


def ssh_dir(state_dir: Path) -> Path:
    return state_dir / "ssh"


def config_path(state_dir: Path) -> Path:
    return ssh_dir(state_dir) / "config"


def known_hosts_path(state_dir: Path, run_id: str) -> Path:
    return ssh_dir(state_dir) / "known_hosts" / run_id


def user_config_path() -> Path:
    """~/.ssh/config of $HOME (tests and sandboxes set HOME; ssh itself reads the passwd entry)."""
    return Path(os.environ.get("HOME") or Path.home()) / ".ssh" / "config"


def _quote(path: Path) -> str:
    text = str(path)
    return f'"{text}"' if any(c.isspace() for c in text) else text


def render_block(entry: HostEntry) -> str:
    lines = [_BEGIN.format(run_id=entry.run_id), f"Host {entry.name}", f"    HostName {entry.address}",
             "    User cc"]
    if entry.identity_file is not None:
        lines += [f"    IdentityFile {_quote(entry.identity_file)}", "    IdentitiesOnly yes"]
    lines += [f"    UserKnownHostsFile {_quote(entry.known_hosts)}", "    StrictHostKeyChecking accept-new",
              _END.format(run_id=entry.run_id)]
    return "\n".join(lines) + "\n"


def blocks(text: str) -> dict[str, str]:
    """run id -> its block, in file order."""
    return {m["run"]: m.group(0) for m in _BLOCK.finditer(text)}


def _alias(block: str) -> str | None:
    found = re.search(r"^Host (\S+)$", block, re.M)
    return found.group(1) if found else None


def _rewrite(state_dir: Path, run_id: str, entry: HostEntry | None) -> str | None:
    """Put the run's block in (entry) or take it out (None), under the lock; the alias written, if any."""
    path = config_path(state_dir)
    with folder_lock(ssh_dir(state_dir)):
        current = blocks(path.read_text(encoding="utf-8")) if path.exists() else {}
        if entry is None and run_id not in current:
            return None
        alias = None
        if entry is None:
            current.pop(run_id)
        else:
            # another live run under the same name (`--new`) keeps it; ssh would only ever reach the first
            taken = {_alias(b) for r, b in current.items() if r != run_id}
            alias = entry.name if entry.name not in taken else f"{entry.name}-{entry.run_id}"
            current[run_id] = render_block(replace(entry, name=alias))
        write_atomic(path, _HEADER + "".join(f"\n{b}" for b in current.values()))
        return alias


def add_host(state_dir: Path, entry: HostEntry) -> tuple[Path, str]:
    """Write (or replace) the run's block; our config file and the Host alias (the run's name, or
    NAME-RUNID when another live run already answers to NAME)."""
    entry.known_hosts.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    alias = _rewrite(state_dir, entry.run_id, entry)
    assert alias is not None
    return config_path(state_dir), alias


def remove_host(state_dir: Path, run_id: str) -> bool:
    """Drop the run's block and its known-hosts file; True when there was a block."""
    path = config_path(state_dir)
    had = path.exists() and run_id in blocks(path.read_text(encoding="utf-8"))
    _rewrite(state_dir, run_id, None)
    with contextlib.suppress(FileNotFoundError):
        known_hosts_path(state_dir, run_id).unlink()
    return had


def host_of(state_dir: Path, run_id: str) -> str | None:
    """The Host alias our file holds for the run, if any."""
    path = config_path(state_dir)
    block = blocks(path.read_text(encoding="utf-8")).get(run_id) if path.exists() else None
    return _alias(block) if block else None


def include_line(state_dir: Path) -> str:
    return f"Include {_quote(config_path(state_dir).resolve())}"


def has_include(state_dir: Path, user_config: Path | None = None) -> bool:
    """Whether the user's ssh config already includes our file (any spelling of the path, any case)."""
    user_config = user_config or user_config_path()
    if not user_config.exists():
        return False
    ours = str(config_path(state_dir).resolve())
    for line in user_config.read_text(encoding="utf-8", errors="replace").splitlines():
        words = line.strip().split(None, 1)
        if len(words) == 2 and words[0].lower() == "include":
            paths = [p.strip('"') for p in re.findall(r'"[^"]*"|\S+', words[1])]
            if any(str(Path(os.path.expanduser(p)).resolve()) == ours for p in paths):
                return True
    return False


def add_include(state_dir: Path, user_config: Path | None = None) -> bool:
    """Put our Include line at the top of the user's ssh config; False when it was already there.

    The file is replaced atomically with its mode kept (a new one is 0600 in a 0700 ~/.ssh); a symlinked
    config (dotfile managers) is written through to its target.
    """
    user_config = user_config or user_config_path()
    if has_include(state_dir, user_config):
        return False
    target = Path(os.path.realpath(user_config))
    old = target.read_text(encoding="utf-8") if target.exists() else ""
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o600
    line = include_line(state_dir)
    text = f"# chameleon-provision: `ssh RUN-NAME` for its runs\n{line}\n" + (f"\n{old}" if old else "")
    write_atomic(target, text, mode)
    return True
