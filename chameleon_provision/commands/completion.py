"""Shell completion values (click's completion for bash, zsh and fish): run ids, sites, clouds.yaml profiles.

Each runs on every Tab press, so each reads only local files (the state database, settings, clouds.yaml),
never the cloud, and a problem with any of them completes nothing rather than printing an error.
"""

from __future__ import annotations

import os
from typing import Any

from click.shell_completion import CompletionItem


def _settings() -> Any:
    from chameleon_provision.config import load_settings
    from chameleon_provision.pipeline.startup import read_env_files

    return load_settings({}, os.environ, read_env_files(None, os.environ))


def run_ids(_ctx: Any, _param: Any, incomplete: str) -> list[CompletionItem]:
    try:
        from chameleon_provision.state.store import StateStore

        path = _settings().state_dir / "runs.sqlite3"
        if not path.is_file():  # never create a state database just to complete a word
            return []
        runs = StateStore(path).runs()
    except Exception:  # a Tab press must never print a traceback into the prompt
        return []
    return [CompletionItem(r.run_id, help=f"{r.status} {r.name or r.source}") for r in runs
            if r.run_id.startswith(incomplete)]


def sites(_ctx: Any, _param: Any, incomplete: str) -> list[CompletionItem]:
    try:
        names = sorted(_settings().site_auth_urls)
    except Exception:  # as above: complete nothing
        return []
    return [CompletionItem(name) for name in names if name.lower().startswith(incomplete.lower())]


def profiles(_ctx: Any, _param: Any, incomplete: str) -> list[CompletionItem]:
    try:
        import yaml

        from chameleon_provision.profiles import search_path

        names: dict[str, str] = {}
        for path in search_path(os.environ):
            if path.is_file():
                clouds = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("clouds") or {}
                for name, entry in clouds.items():
                    region = entry.get("region_name", "") if isinstance(entry, dict) else ""
                    names.setdefault(str(name), str(region or path))
    except Exception:  # as above: complete nothing
        return []
    return [CompletionItem(n, help=h) for n, h in sorted(names.items()) if n.startswith(incomplete)]
