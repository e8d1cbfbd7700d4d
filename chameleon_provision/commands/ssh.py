"""`ssh NAME` for a ready run, and `provision ssh RUN [-- CMD]`.

Once the user's ~/.ssh/config includes our file, plain `ssh NAME` (and scp, rsync, VS Code's remote
hosts, everything that reads ssh's config) reaches the node. `provision ssh` runs `ssh NAME` then, so
the user's own settings (agent forwarding, ControlMaster, ...) apply as for any other host; without
the Include it runs `ssh -F <our file> NAME`, which works the same but reads only our file.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from chameleon_provision.errors import ConfigError, StateError
from chameleon_provision.state import ssh_config
from chameleon_provision.state.store import RunRecord, StateStore

_LIVE = ("ready",)


def publish(state_dir: Path, run_id: str, name: str, address: str, identity_file: Path | None,
            confirm: Callable[[str], bool] | None, progress: Callable[[str], None], *,
            offer: bool = True) -> dict[str, Any]:
    """Write the run's Host block and, with consent, the Include line; the `ssh` part of the run document.

    `confirm` None (no terminal and no --yes): the line is printed for the user to add. `offer` False
    (PROVISION_SSH_INCLUDE=no): ~/.ssh/config is neither touched nor mentioned.
    """
    entry = ssh_config.HostEntry(run_id=run_id, name=name, address=address, identity_file=identity_file,
                                 known_hosts=ssh_config.known_hosts_path(state_dir, run_id))
    ours, name = ssh_config.add_host(state_dir, entry)
    user_config = ssh_config.user_config_path()
    line = ssh_config.include_line(state_dir)
    included = ssh_config.has_include(state_dir, user_config)
    if not included and offer and confirm is not None and confirm(
            f"Add `{line}` at the top of {user_config}, so that `ssh {name}` reaches this run's node "
            "(and later runs' nodes)?"):
        ssh_config.add_include(state_dir, user_config)
        progress(f"added the Include line to {user_config}")
        included = True
    elif not included and offer:
        progress(f"for `ssh {name}`, add this line at the top of {user_config}:\n  {line}")
    command = f"ssh {name}" if included else f"ssh -F {ours} {name}"
    return {"host": name, "config_file": str(ours), "included": included, "include_line": line,
            "user_config": str(user_config), "command": command}


def forget(state_dir: Path, run_id: str) -> bool:
    """Drop the run's Host block (destroy, cleanup)."""
    return ssh_config.remove_host(state_dir, run_id)


def ssh_argv(state_dir: Path, store: StateStore, run_id: str, command: Sequence[str]) -> list[str]:
    """The ssh command line for `provision ssh RUN [-- CMD]`; StateError when the run has no live block."""
    run: RunRecord = store.run(run_id)
    host = ssh_config.host_of(state_dir, run_id)
    if run.status not in _LIVE:
        raise StateError(f"run {run_id} has no ready node to reach ({run.status})",
                         hint="`provision status` lists runs; `provision resume RUN` finishes one")
    if host is None:  # a run made before runs had Host blocks
        raise StateError(f"run {run_id} has no Host block in {ssh_config.config_path(state_dir)}",
                         hint=f"use {run.ssh_command}" if run.ssh_command else "`provision resume RUN` writes it")
    executable = shutil.which("ssh")
    if executable is None:
        raise ConfigError("the `ssh` command was not found", hint="install an OpenSSH client")
    options = [] if ssh_config.has_include(state_dir) else ["-F", str(ssh_config.config_path(state_dir))]
    # ssh reads options after the host too; after `--` it reads none, so a command's own flags stay its own
    return [executable, *options, "--", host, *command]


def exec_ssh(argv: list[str]) -> None:
    """Replace this process with ssh: its terminal, signals and exit status become the user's directly."""
    os.execv(argv[0], argv)
