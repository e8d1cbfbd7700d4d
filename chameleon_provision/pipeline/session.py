"""Everything one invocation shares: settings, output streams, AI, state, discovery, one runner per site.

A Session is a context manager: leaving it (normally, on an error or on Ctrl+C) ends the `openstack`
session processes it started. Modules that only some commands need (the AI client and pydantic, the
discovery client and `requests`) are imported on first use: `provision status` stays quick, and a run's
first `openstack` process starts before they load.
"""

from __future__ import annotations

import functools
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from chameleon_provision.cloud.catalog_cache import CatalogCache
from chameleon_provision.cloud.openstack_cli import OpenStackRunner, SubprocessRunner
from chameleon_provision.cloud.openstack_session import SessionRunner
from chameleon_provision.cloud.operations import Cloud
from chameleon_provision.config import Settings
from chameleon_provision.console import Streams
from chameleon_provision.errors import ProvisionError
from chameleon_provision.models import NodeRecord
from chameleon_provision.state.store import StateStore

if TYPE_CHECKING:
    from chameleon_provision.ai_client import AIClient
    from chameleon_provision.cloud.resource_discovery import DiscoveryClient
    from chameleon_provision.decisions.availability import Availability, SiteHosts
    from chameleon_provision.repo_analyzer import Analysis, RepoCheckout

log = logging.getLogger(__name__)
R = TypeVar("R")
RunnerFactory = Callable[[Mapping[str, str], float], OpenStackRunner]
# Told which free host a run counts on, for its lease window (a batch keeps other runs off it).
Promise = Callable[["Availability", datetime, datetime], None]


def promise_nothing(_found: Availability, _start: datetime, _end: datetime) -> None:
    return None


def subprocess_runner(credentials: Mapping[str, str], timeout: float) -> OpenStackRunner:
    """One `openstack` process per command: the fallback (PROVISION_OPENSTACK_RUNNER=process)."""
    return SubprocessRunner(credentials, timeout=timeout)


def session_runner(credentials: Mapping[str, str], timeout: float) -> OpenStackRunner:
    """One interactive `openstack` process for the site, started on its first command (the default)."""
    return SessionRunner(credentials, timeout=timeout)


RUNNERS: dict[str, RunnerFactory] = {"session": session_runner, "process": subprocess_runner}


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%m%d%H%M") + "-" + secrets.token_hex(2)


@dataclass
class Session:
    settings: Settings
    streams: Streams
    runner_factory: RunnerFactory | None = None  # None: the one PROVISION_OPENSTACK_RUNNER names
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        s = self.settings
        self.store = StateStore(s.state_dir / "runs.sqlite3")
        self.cache = CatalogCache(s.state_dir / "cache")
        self._factory: RunnerFactory = self.runner_factory or RUNNERS[s.openstack_runner]
        self._runners: dict[str, OpenStackRunner] = {}
        self._clouds: dict[str, Cloud] = {}
        self._lock = threading.Lock()  # sites may be queried from several threads at once
        self._pool: ThreadPoolExecutor | None = None
        self._prefetched_nodes: dict[tuple[str, ...], Future[list[NodeRecord]]] = {}

    @functools.cached_property
    def ai(self) -> AIClient:
        from chameleon_provision.ai_client import AIClient, AISettings  # pydantic: 0.1-0.2 s of imports

        s = self.settings
        return AIClient(AISettings(api_key=s.openai_api_key, base_url=s.openai_base_url, model=s.model,
                                   mode=s.ai_mode))

    @functools.cached_property
    def discovery(self) -> DiscoveryClient:
        from chameleon_provision.cloud.resource_discovery import DiscoveryClient

        return DiscoveryClient(self.settings.api_url)

    def cloud(self, site: str) -> Cloud:
        """The site's operations; its runner (and with it the site's one `openstack` process) is made once."""
        with self._lock:
            if site not in self._clouds:
                creds = self.settings.credentials_for(site)
                self._runners[site] = self._factory(creds, self.settings.openstack_timeout)
                self._clouds[site] = Cloud(self._runners[site])
            return self._clouds[site]

    def warm(self, site: str) -> None:
        """Start the site's `openstack` process now; its start-up overlaps whatever comes before its first use."""
        try:
            runner = self.cloud(site).runner
        except ProvisionError:  # an unknown site is reported where it is used
            return
        start = getattr(runner, "start", None)
        if start is not None:
            start()

    def background(self, fn: Callable[..., R], *args: Any) -> Future[R]:
        """Run fn(*args) in a worker thread; its result (or error) is collected with `.result()`."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="provision")
            return self._pool.submit(fn, *args)

    def close(self) -> None:
        """End every session process this Session started; safe to call more than once."""
        with self._lock:
            runners = list(self._runners.values())
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        for runner in runners:
            close = getattr(runner, "close", None)
            if close is not None:
                try:
                    close()
                except Exception as exc:  # closing must never hide the error that ended the command
                    log.debug("closing an openstack runner failed: %r", exc)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reachable_sites(self) -> list[str]:
        """Sites this identity can use: an application credential is bound to its own site only."""
        s = self.settings
        auth_type = s.credentials.get("OS_AUTH_TYPE", "") or (s.profile.auth_type if s.profile else "")
        if "applicationcredential" in auth_type:  # unless a clouds.yaml profile of the same file serves another
            return [s.site, *[site for site in (s.profile.siblings if s.profile else {}) if site != s.site]]
        return [s.site, *[site for site in s.site_auth_urls if site != s.site]]

    def prefetch_nodes(self, sites: Sequence[str]) -> None:
        """Start reading the node records of `sites` from the discovery API; `nodes(sites)` collects them."""
        self._prefetched_nodes[tuple(sites)] = self.background(self._load_nodes, list(sites))

    def nodes(self, sites: list[str]) -> list[NodeRecord]:
        future = self._prefetched_nodes.pop(tuple(sites), None)
        return future.result() if future is not None else self._load_nodes(sites)

    def _load_nodes(self, sites: list[str]) -> list[NodeRecord]:
        from chameleon_provision.cloud.resource_discovery import parse_node

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

    def analyze(self, checkout: RepoCheckout) -> Analysis:
        """The repository's analysis (a batch reads a repository that several rows name once)."""
        from chameleon_provision.repo_analyzer import analyze

        return analyze(checkout.path)

    def site_hosts(self, site: str, nodes: Sequence[NodeRecord]) -> SiteHosts:
        """The site's Blazar hosts and allocations (a batch reads them once and adds its own promises)."""
        from chameleon_provision.decisions.availability import load_site_hosts

        return load_site_hosts(self.cloud(site), nodes)

    @contextmanager
    def capacity(self) -> Iterator[Promise]:
        """Held while a run looks for a free host; a real batch holds its ledger here (one run at a time)."""
        yield promise_nothing

    def stats(self) -> dict[str, float | int]:
        runners = list(self._runners.values())
        discovery = self.__dict__.get("discovery")  # not made just to say it made no calls
        return {"openstack_calls": sum(r.calls for r in runners),
                "openstack_processes": sum(int(getattr(r, "processes", r.calls)) for r in runners),
                "ai_calls": self.ai.calls if "ai" in self.__dict__ else 0,
                "discovery_calls": discovery.calls if discovery else 0,
                "seconds": round(time.monotonic() - self.started, 1)}
