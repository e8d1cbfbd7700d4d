"""Turning command-line flags into a Session, with or without an in-process twin."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from .config import Settings, load_settings
from .console import Streams, setup_logging
from .session import Session


def read_dotenv(path: Path | None = None) -> dict[str, str | None]:
    """The `.env` in the working directory (or PROVISION_ENV_FILE); values only, os.environ untouched."""
    target = path or Path(os.environ.get("PROVISION_ENV_FILE", ".env"))
    return dict(dotenv_values(target)) if target.is_file() else {}


@contextmanager
def open_session(flags: Mapping[str, Any], *, verbosity: int = 0, twin: bool = False,
                 environ: Mapping[str, str] | None = None) -> Iterator[Session]:
    """A Session for one command; with twin=True a private twin runs in this process for its duration."""
    streams = Streams(verbosity=verbosity)
    setup_logging(verbosity, streams.err)
    env = dict(os.environ if environ is None else environ)
    dotenv = read_dotenv()
    if not twin:
        settings = load_settings(flags, env, dotenv)
        _describe(streams, settings)
        yield Session(settings, streams)
        return
    from .twin.server import TwinServer

    with TwinServer(port=0) as server, tempfile.TemporaryDirectory(prefix="provision-twin-") as tmp:
        twin_env = server.env(str(flags.get("site") or "CHI@UC"))
        # The twin replaces any real cloud settings; AI settings and explicit state dirs still apply.
        env = {k: v for k, v in env.items() if not k.startswith("OS_")} | twin_env
        env.setdefault("PROVISION_STATE_DIR", str(Path(tmp) / "state"))
        env.update({"PROVISION_SSH_TIMEOUT": "0", "PROVISION_POLL_SECONDS": "0.5"})
        dotenv = {k: v for k, v in dotenv.items() if not k.startswith("OS_") and k != "CHAMELEON_API_URL"}
        settings = load_settings(flags, env, dotenv)
        streams.progress(f"twin: CHI@UC and CHI@TACC at {server.base_url} (in this process)")
        _describe(streams, settings)
        yield Session(settings, streams)
        streams.progress("The in-process twin stops with this command, and everything on it goes too; "
                         "`provision twin serve` keeps one running for `status` and `destroy`.")


def _describe(streams: Streams, settings: Settings) -> None:
    if streams.verbosity >= 1:
        for name, value, source in settings.describe():
            streams.err.print(f"  {name} = {value}  [{source}]", highlight=False)
