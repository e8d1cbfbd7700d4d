"""Everything one invocation shares: settings, output streams, AI, state, discovery, one runner per site."""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from chameleon_provision.ai_client import AIClient, AISettings
from chameleon_provision.cloud.catalog_cache import CatalogCache
from chameleon_provision.cloud.openstack_cli import OpenStackRunner, SubprocessRunner
from chameleon_provision.cloud.operations import Cloud
from chameleon_provision.cloud.resource_discovery import DiscoveryClient, parse_node
from chameleon_provision.config import Settings
from chameleon_provision.console import Streams
from chameleon_provision.models import NodeRecord
from chameleon_provision.state.store import StateStore

RunnerFactory = Callable[[Mapping[str, str], float], OpenStackRunner]


def subprocess_runner(credentials: Mapping[str, str], timeout: float) -> OpenStackRunner:
    return SubprocessRunner(credentials, timeout=timeout)


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%m%d%H%M") + "-" + secrets.token_hex(2)


@dataclass
class Session:
    settings: Settings
    streams: Streams
    runner_factory: RunnerFactory = subprocess_runner
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        s = self.settings
        self.ai = AIClient(AISettings(api_key=s.openai_api_key, base_url=s.openai_base_url, model=s.model,
                                      mode=s.ai_mode))
        self.store = StateStore(s.state_dir / "runs.sqlite3")
        self.cache = CatalogCache(s.state_dir / "cache")
        self.discovery = DiscoveryClient(s.api_url)
        self._runners: dict[str, OpenStackRunner] = {}

    def cloud(self, site: str) -> Cloud:
        if site not in self._runners:
            creds = self.settings.credentials_for(site)
            self._runners[site] = self.runner_factory(creds, self.settings.openstack_timeout)
        return Cloud(self._runners[site])

    def reachable_sites(self) -> list[str]:
        """Sites this identity can use: an application credential is bound to its own site only."""
        s = self.settings
        if "applicationcredential" in s.credentials.get("OS_AUTH_TYPE", ""):
            return [s.site]
        return [s.site, *[site for site in s.site_auth_urls if site != s.site]]

    def nodes(self, sites: list[str]) -> list[NodeRecord]:
        out: list[NodeRecord] = []
        known = {item.get("name") for item in self.cache.get_or_load(f"sites-{self.settings.api_url}",
                                                                      self.discovery.sites)}
        for site in sites:
            if site not in known and site != self.settings.site:
                continue
            records = self.cache.get_or_load(f"nodes-{self.settings.api_url}-{site}",
                                             functools.partial(self.discovery.node_records, site))
            out.extend(parse_node(r, site) for r in records)
        return out

    def stats(self) -> dict[str, float | int]:
        return {"openstack_calls": sum(r.calls for r in self._runners.values()), "ai_calls": self.ai.calls,
                "discovery_calls": self.discovery.calls, "seconds": round(time.monotonic() - self.started, 1)}
