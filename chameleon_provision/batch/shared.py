"""What the runs of one batch share: each site's one `openstack` process, catalogs read once, a host ledger.

Every run gets its own `RowSession` (its own settings, say a per-row site), but the clouds, node
records, images, Blazar hosts and allocations come from the one `BatchShared`, read at most once per
site for the whole batch (the first run to need one reads it; the others wait for that read).
In a real batch the ledger remembers which host each run counts on: the allocations are read once,
so without it two runs would both be planned onto the last free host of a type.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from chameleon_provision.cloud.command_log import EventSink, LoggedRunner
from chameleon_provision.cloud.operations import Cloud, Keypair, Submit
from chameleon_provision.console import Streams
from chameleon_provision.decisions.availability import Availability, SiteHosts
from chameleon_provision.models import ImageRecord, NodeRecord
from chameleon_provision.pipeline.session import Promise, Session, promise_nothing
from chameleon_provision.repo_analyzer import Analysis, RepoCheckout
from chameleon_provision.state.run_log import RunLog

R = TypeVar("R")
_LEDGER_DATE = "%Y-%m-%d %H:%M:%S"


class Memo:
    """Values loaded once: concurrent callers of one key wait for the first caller's load."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[Hashable, Future[Any]] = {}

    def get(self, key: Hashable, load: Callable[[], R]) -> R:
        with self._lock:
            future = self._values.get(key)
            mine = future is None
            if future is None:
                future = self._values[key] = Future()
        if mine:
            try:
                future.set_result(load())
            except BaseException as exc:
                with self._lock:  # a failed read is not remembered: the next run tries again
                    self._values.pop(key, None)
                future.set_exception(exc)
                raise
        return future.result()


class BatchCloud(Cloud):
    """A site's operations whose catalog reads are made once for the batch; creates and deletes pass through."""

    def __init__(self, cloud: Cloud, memo: Memo, site: str, *, keypairs_once: bool) -> None:
        super().__init__(cloud.runner)
        self._memo, self._site, self._keypairs_once = memo, site, keypairs_once

    def _once(self, name: str, load: Callable[[], R], *key: str) -> R:
        return self._memo.get((self._site, name, *key), load)

    def read_ahead(self, submit: Submit, names: Sequence[str] = ()) -> None:
        return None  # the batch's one read of each catalog replaces every run's early reads

    def token_issue(self) -> Any:
        return self._once("token", super().token_issue)

    def images(self) -> list[ImageRecord]:
        return self._once("images", super().images)

    def image_properties(self, image_id: str) -> Any:
        return self._once("image", lambda: Cloud.image_properties(self, image_id), image_id)

    def hosts(self, *, fresh: bool = False) -> list[Any]:
        return self._once("hosts", lambda: Cloud.hosts(self, fresh=True))

    def allocations(self, *, fresh: bool = False) -> list[Any]:
        return self._once("allocations", lambda: Cloud.allocations(self, fresh=True))

    def keypairs(self, *, fresh: bool = False) -> list[Keypair]:
        # A real run creates keypairs and reads them again under its key lock: those reads stay fresh.
        if self._keypairs_once:
            return self._once("keypairs", lambda: Cloud.keypairs(self, fresh=True))
        return super().keypairs(fresh=fresh)


@dataclass
class Ledger:
    """Hosts promised to runs of this batch, as allocations Blazar would show once their leases exist."""

    enabled: bool
    turn: threading.Lock = field(default_factory=threading.Lock)  # one run picks a host at a time
    _data_lock: threading.Lock = field(default_factory=threading.Lock)
    _promises: dict[int, tuple[str, str, datetime, datetime]] = field(default_factory=dict)

    def allocations(self, site: str) -> tuple[dict[str, Any], ...]:
        with self._data_lock:
            promised = [p for p in self._promises.values() if p[0] == site]
        return tuple({"resource_id": host, "reservations": [{"start_date": f"{s:{_LEDGER_DATE}}",
                                                              "end_date": f"{e:{_LEDGER_DATE}}"}]}
                     for _site, host, s, e in promised)

    def promise(self, row: int, site: str, host_id: str, start: datetime, end: datetime) -> None:
        with self._data_lock:
            self._promises[row] = (site, host_id, start, end)

    def release(self, row: int) -> None:
        with self._data_lock:
            self._promises.pop(row, None)

    def promised(self) -> dict[int, tuple[str, str]]:
        with self._data_lock:
            return {row: (p[0], p[1]) for row, p in self._promises.items()}


class ThreadLogs:
    """The sink of the shared runners: a command goes to the log of the row whose thread ran it (reads made
    for the whole batch, on the read pool, go to the batch's own log)."""

    def __init__(self, fallback: EventSink) -> None:
        self.fallback = fallback
        self._local = threading.local()

    def bind(self, log: EventSink | None) -> None:
        self._local.log = log

    def event(self, kind: str, text: str, **fields: object) -> None:
        (getattr(self._local, "log", None) or self.fallback).event(kind, text, **fields)


class BatchShared:
    """Owned by the batch; the root Session keeps the runners (and ends their processes when it closes)."""

    def __init__(self, root: Session, *, real: bool, workers: int) -> None:
        self.root = root
        self.memo = Memo()
        self.logs = ThreadLogs(root.log)
        self.ledger = Ledger(enabled=real)
        self.real = real
        self._clouds: dict[str, BatchCloud] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max(4, 2 * workers), thread_name_prefix="provision-read")

    def cloud(self, site: str) -> BatchCloud:
        base = self.root.cloud(site)  # unknown site -> ConfigError, as in a single run
        with self._lock:
            if site not in self._clouds:
                if isinstance(base.runner, LoggedRunner):
                    base.runner.sink = self.logs
                self._clouds[site] = BatchCloud(base, self.memo, site, keypairs_once=not self.real)
            return self._clouds[site]

    def background(self, fn: Callable[..., R], *args: Any) -> Future[R]:
        return self._pool.submit(fn, *args)

    def nodes(self, sites: list[str]) -> list[NodeRecord]:
        return self.memo.get(("nodes", *sites), lambda: self.root.nodes(sites))

    def site_hosts(self, site: str, nodes: Sequence[NodeRecord]) -> SiteHosts:
        from chameleon_provision.decisions.availability import load_site_hosts

        read = self.memo.get((site, "site_hosts"), lambda: load_site_hosts(self.cloud(site), nodes))
        return SiteHosts(read.nodes, read.allocations + self.ledger.allocations(site))

    def promise_for(self, row: int) -> Promise:
        def promise(found: Availability, start: datetime, end: datetime) -> None:
            site = found.candidate.site
            read = self.memo.get((site, "site_hosts"), lambda: SiteHosts((), ()))
            props = found.candidate.resource_properties
            named = props[2] if len(props) == 3 and props[2] in found.free_nodes else None
            wanted = named or (found.free_nodes[0] if found.free_nodes else None)
            host = next((h.id for n, h in read.nodes if n.node_name == wanted), None)
            if host is not None:
                self.ledger.promise(row, site, host, start, end)
        return promise

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class RowStreams(Streams):
    """A run's progress lines carry its row label, and appear only with -v: runs interleave."""

    def __init__(self, base: Streams, label: str) -> None:
        super().__init__(out=base.out, err=base.err, verbosity=base.verbosity)
        self.label = label

    def progress(self, message: str) -> None:
        if self.tap is not None:
            self.tap(message)
        if self.verbosity >= 1:
            self.err.print(f"[{self.label}] {message}", highlight=False, markup=False)


class RowSession(Session):
    """One repository's session inside a batch: its own settings and streams, the batch's clouds and catalogs."""

    def __init__(self, shared: BatchShared, row: int, settings: Any, streams: Streams) -> None:
        self.shared, self.row = shared, row
        super().__init__(settings, streams)

    def __post_init__(self) -> None:
        root = self.shared.root
        self.store, self.cache = root.store, root.cache
        self._lock = threading.Lock()
        self._runners, self._clouds = {}, {}
        self._pool = None
        self._prefetched_nodes = {}
        # Its own run log; the shared runners write each command to the log of the row whose thread ran it.
        self.log = RunLog(self._mirror if self.streams.verbosity >= 1 else None)
        self.streams.tap = self._progress_to_log

    def cloud(self, site: str) -> Cloud:
        return self.shared.cloud(site)

    def warm(self, site: str) -> None:
        self.shared.root.warm(site)

    def background(self, fn: Callable[..., R], *args: Any) -> Future[R]:
        return self.shared.background(fn, *args)

    def close(self) -> None:
        return None  # the batch closes the shared sessions once every run is done

    def prefetch_nodes(self, sites: Sequence[str]) -> None:
        return None  # `nodes` reads once for the whole batch

    def nodes(self, sites: list[str]) -> list[NodeRecord]:
        return self.shared.nodes(sites)

    def site_hosts(self, site: str, nodes: Sequence[NodeRecord]) -> SiteHosts:
        return self.shared.site_hosts(site, nodes)

    def analyze(self, checkout: RepoCheckout) -> Analysis:
        # rows naming the same repository (at the same commit) with different overrides read it once
        return self.shared.memo.get(("analysis", checkout.source, checkout.commit),
                                    lambda: Session.analyze(self, checkout))

    @contextmanager
    def capacity(self) -> Iterator[Promise]:
        if not self.shared.ledger.enabled:
            yield promise_nothing
            return
        with self.shared.ledger.turn:
            yield self.shared.promise_for(self.row)

    def stats(self) -> dict[str, float | int]:
        """The batch's figures so far: its runs share the processes these count."""
        return self.shared.root.stats()
