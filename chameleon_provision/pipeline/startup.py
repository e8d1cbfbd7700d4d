"""Turning command-line flags into a Session, with or without an in-process twin."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from platformdirs import user_config_dir
from rich.markup import escape

from chameleon_provision.config import EnvFile, Settings, load_settings
from chameleon_provision.console import Streams, setup_logging
from chameleon_provision.errors import ConfigError
from chameleon_provision.pipeline.session import Session


def user_env_file() -> Path:
    return Path(user_config_dir("chameleon-provision")) / ".env"


def read_env_files(chosen: Path | None, environ: Mapping[str, str]) -> list[EnvFile]:
    """The env files in precedence order; values only, os.environ untouched.

    A file the user named (`--env-file`, PROVISION_ENV_FILE) is trusted and replaces the working
    directory's `.env`; otherwise that `.env` is read for the WORKDIR_SAFE names only. The user's own
    config folder's `.env` is trusted and comes last.
    """
    named = chosen or (Path(environ["PROVISION_ENV_FILE"]) if environ.get("PROVISION_ENV_FILE") else None)
    candidates = [(named, True)] if named else [(Path(".env"), False)]
    candidates.append((user_env_file(), True))
    out = []
    for path, trusted in candidates:
        if path.is_file():
            out.append(EnvFile(str(path), dict(dotenv_values(path)), trusted))
        elif path is named and chosen is not None:
            raise ConfigError(f"--env-file {path}: no such file")
    return out


def _warn_ignored(streams: Streams, files: list[EnvFile]) -> None:
    for f in files:
        if f.ignored():
            streams.progress(escape(f"ignoring {', '.join(f.ignored())} in {f.path}: endpoints, credentials and "
                                    f"key paths are read only from the environment, --env-file or {user_env_file()}"))


# With --twin, the twin is the cloud: no env file may point these elsewhere.
_CLOUD_ENDPOINTS = ("CHAMELEON_API_URL", "CHI_RESOURCE_API_URL", "PROVISION_SITE_AUTH_URLS")


@contextmanager
def open_session(flags: Mapping[str, Any], *, verbosity: int = 0, twin: bool = False,
                 environ: Mapping[str, str] | None = None, env_file: Path | None = None) -> Iterator[Session]:
    """A Session for one command; with twin=True a private twin runs in this process for its duration."""
    from chameleon_provision.profiles import chosen

    flags = {**flags, "os_cloud": flags.get("os_cloud") or chosen.get()}
    streams = Streams(verbosity=verbosity)
    setup_logging(verbosity, streams.err)
    env = dict(os.environ if environ is None else environ)
    files = read_env_files(env_file, env)
    _warn_ignored(streams, files)
    if not twin:
        settings = load_settings(flags, env, files)
        _describe(streams, settings)
        with Session(settings, streams) as session:  # ends its openstack processes, also on errors
            yield session
        return
    from chameleon_twin.server import TwinServer

    with TwinServer(port=0) as server, tempfile.TemporaryDirectory(prefix="provision-twin-") as tmp:
        twin_env = server.env(str(flags.get("site") or "CHI@UC"))
        # The twin replaces any real cloud settings; AI settings and explicit state dirs still apply.
        env = {k: v for k, v in env.items() if not k.startswith("OS_")} | twin_env
        env.setdefault("PROVISION_STATE_DIR", str(Path(tmp) / "state"))
        env.update({"PROVISION_SSH_TIMEOUT": "0", "PROVISION_POLL_SECONDS": "0.5"})
        files = [EnvFile(f.path, {k: v for k, v in f.usable().items()
                                  if not k.startswith("OS_") and k not in _CLOUD_ENDPOINTS}) for f in files]
        settings = load_settings({**flags, "os_cloud": None}, env, files)  # the twin is the cloud, not a profile
        streams.progress(f"twin: CHI@UC, CHI@TACC and CHI@NCAR at {server.base_url} (in this process)")
        _describe(streams, settings)
        with Session(settings, streams) as session:
            yield session
        streams.progress("The in-process twin stops with this command, and everything on it goes too; "
                         "`chameleon-twin serve` keeps one running for `status` and `destroy`.")


def _describe(streams: Streams, settings: Settings) -> None:
    if streams.verbosity >= 1:
        for name, value, source in settings.describe():
            streams.err.print(escape(f"  {name} = {value}  [{source}]"), highlight=False)
