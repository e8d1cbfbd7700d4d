"""A small JSON file cache with a TTL for catalogs that change slowly (images, node records)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chameleon_provision.state.files import write_atomic

log = logging.getLogger(__name__)


class CatalogCache:
    def __init__(self, directory: Path | None, *, ttl_seconds: float = 3600.0) -> None:
        self.directory = directory
        self.ttl = ttl_seconds
        self.hits = 0

    def _path(self, key: str) -> Path | None:
        if self.directory is None:
            return None
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)
        return self.directory / f"{safe}.json"

    def get_or_load(self, key: str, load: Callable[[], Any]) -> Any:
        path = self._path(key)
        if path is not None and path.exists() and time.time() - path.stat().st_mtime < self.ttl:
            try:
                value = json.loads(path.read_text(encoding="utf-8"))
                self.hits += 1
                return value
            except (OSError, ValueError):
                log.debug("ignoring unreadable cache file %s", path)
        value = load()
        if path is not None:
            try:
                write_atomic(path, json.dumps(value))  # a concurrent run never reads (or publishes) half a file
            except OSError as exc:
                log.debug("cannot write cache %s: %s", path, exc)
        return value
