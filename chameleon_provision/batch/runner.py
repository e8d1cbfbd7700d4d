"""Running a batch: bounded concurrency, one JSON line per repository, an exit code for the whole.

Each repository runs the main command's pipeline (`pipeline.run.run`) in a worker thread with its
own RowSession. One failure is that repository's error document, never the batch's end. Ctrl+C (or
SIGTERM) interrupts every run in flight: each cleans up after itself as a single run would
(`pipeline.teardown.cleanup_on_failure`), and whatever is still left is named at the end.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from chameleon_provision.batch.inputs import BatchRow, answered
from chameleon_provision.batch.progress import Board
from chameleon_provision.batch.shared import BatchShared, RowSession, RowStreams
from chameleon_provision.errors import (
    BatchFailed,
    BatchPartial,
    ConfirmationRequired,
    ExitCode,
    InputError,
    Interrupted,
    ProvisionError,
)
from chameleon_provision.pipeline.planner import Pins
from chameleon_provision.pipeline.run import RunOptions, run
from chameleon_provision.pipeline.session import Session
from chameleon_provision.pipeline.teardown import manual_command
from chameleon_provision.setup.build import SetupOptions


@dataclass(frozen=True)
class BatchOptions:
    plan_only: bool = False
    jobs: int = 4
    pins: Pins = field(default_factory=Pins)
    keep_on_failure: bool = False
    assume_yes: bool = False
    confirm: Callable[[str], bool] | None = None  # a terminal's yes for the whole batch
    resume_from: Path | None = None
    setup: SetupOptions = field(default_factory=SetupOptions)  # --setup/--no-setup, --setup-cmd for every row


def _pins(row: BatchRow, base: Pins) -> Pins:
    return replace(base, node_type=row.node_type or base.node_type, image=row.image or base.image,
                   hours=row.hours if row.hours is not None else base.hours)


def _error_doc(exc: BaseException, row: BatchRow) -> dict[str, Any]:
    if not isinstance(exc, ProvisionError):  # a bug in one run is that run's failure, not the batch's end
        exc = ProvisionError(f"{type(exc).__name__}: {exc}")
    doc = exc.document()
    doc.setdefault("repo", {"source": row.repo})
    return doc


def _interrupt(thread: threading.Thread) -> None:
    """Raise KeyboardInterrupt inside a worker, as Ctrl+C does in the main thread of a single run."""
    if thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(KeyboardInterrupt))


class Batch:
    def __init__(self, session: Session, rows: list[BatchRow], options: BatchOptions, out: TextIO) -> None:
        self.session, self.rows, self.options, self.out = session, rows, options, out
        self.shared = BatchShared(session, real=not options.plan_only, workers=options.jobs)
        self.board = Board(rows, session.streams)
        self._write = threading.Lock()
        self._threads: dict[int, threading.Thread] = {}  # runs in flight; Ctrl+C interrupts exactly these
        self._inflight = threading.Lock()
        self.codes: dict[int, int] = {}
        self.run_ids: list[str] = []

    def check(self) -> None:
        """Everything that would make the whole batch pointless, before the first run starts."""
        settings = self.session.settings
        for row in self.rows:
            site = row.site or settings.site
            if site not in settings.site_auth_urls and site != settings.credentials.get("OS_REGION_NAME"):
                raise InputError(f"batch line {row.line}: unknown site {site!r}",
                                 hint=f"known sites: {', '.join(sorted(settings.site_auth_urls))}")
        if self.options.plan_only or self.options.assume_yes:
            return
        if self.options.confirm is None:
            raise ConfirmationRequired(f"this batch creates a lease, a server and a floating IP for each of "
                                       f"{len(self.rows)} repositories",
                                       hint="pass --yes to confirm without a terminal, or --plan-only")
        if not self.options.confirm(f"Create a lease, a server and a floating IP for each of {len(self.rows)} "
                                    "repositories (each within the SU ceiling)?"):
            raise ProvisionError("cancelled; nothing was created")

    def _one(self, index: int, row: BatchRow) -> int:
        with self._inflight:
            self._threads[index] = threading.current_thread()
        self.board.started(index)
        settings = self.session.settings if row.site is None else replace(self.session.settings, site=row.site)
        streams = RowStreams(self.session.streams, row.label)
        session = RowSession(self.shared, index, settings, streams)
        opts = RunOptions(source=row.repo, plan_only=self.options.plan_only, pins=_pins(row, self.options.pins),
                          name=row.name, keep_on_failure=self.options.keep_on_failure,
                          confirm=lambda _q: True, assume_yes=True, setup=self.options.setup)
        self.shared.logs.bind(session.log)
        try:
            doc = run(session, opts)
            code = int(ExitCode.OK)
        except BaseException as exc:  # Ctrl+C reaches a worker as KeyboardInterrupt
            if isinstance(exc, KeyboardInterrupt):
                exc = Interrupted("interrupted before anything was created")
            doc = _error_doc(exc, row)
            code = int(doc["error"]["exit_code"])
            if not doc.get("left"):  # nothing of this run is left: its host is free for the others again
                self.shared.ledger.release(index)
        finally:
            self.shared.logs.bind(None)
            with self._inflight:  # after this, no interrupt can be aimed at this thread
                self._threads.pop(index, None)
        doc["batch"] = {"line": row.line, "input": row.repo, "name": row.name, "exit_code": code}
        with self._write:
            if doc.get("run_id"):
                self.run_ids.append(str(doc["run_id"]))
            self.out.write(json.dumps(doc, separators=(",", ":")) + "\n")
            self.out.flush()
        self.codes[index] = code
        self.board.finished(index, doc, code)
        return code

    def run(self) -> dict[str, Any]:
        done = answered(self.options.resume_from) if self.options.resume_from else set()
        todo = [(i, r) for i, r in enumerate(self.rows) if r.key not in done]
        for i, r in enumerate(self.rows):
            if r.key in done:
                self.board.skipped(i)
        previous = signal.getsignal(signal.SIGTERM)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _raise_interrupt)
        pool = ThreadPoolExecutor(max_workers=self.options.jobs, thread_name_prefix="provision-batch")
        self.board.open()
        started = time.monotonic()
        try:
            futures: set[Future[int]] = {pool.submit(self._one, i, r) for i, r in todo}
            while futures:
                _, futures = wait(futures, timeout=0.2, return_when=FIRST_COMPLETED)
                self.board.refresh()
        except KeyboardInterrupt:
            self._stop_all(pool)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            self.board.close()
            self.shared.close()
            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGTERM, previous)
        return self._summary(len(todo), len(self.rows) - len(todo), time.monotonic() - started)

    def _stop_all(self, pool: ThreadPoolExecutor) -> None:
        self.session.streams.err.print("interrupted: stopping the runs in flight and removing what they created",
                                       highlight=False)
        pool.shutdown(wait=False, cancel_futures=True)
        with self._inflight:
            for thread in self._threads.values():
                _interrupt(thread)
        with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl+C: stop waiting; `status` shows what is left
            pool.shutdown(wait=True)
        left = [r for run in self.run_ids for r in self.session.store.live_resources(run) if r.kind != "keypair"]
        detail = "left behind: " + "; ".join(manual_command(r) for r in left) if left else "nothing was left behind"
        raise Interrupted(f"batch interrupted; {detail}")

    def _summary(self, ran: int, skipped: int, seconds: float) -> dict[str, Any]:
        ok = sum(1 for c in self.codes.values() if c == 0)
        failed = len(self.codes) - ok
        stats = self.session.stats()
        summary = {"repositories": len(self.rows), "succeeded": ok, "failed": failed, "skipped": skipped,
                   "seconds": round(seconds, 1), "openstack_processes": stats["openstack_processes"],
                   "openstack_calls": stats["openstack_calls"]}
        self.board.summary(summary)
        if ran and ok == 0:
            raise BatchFailed(f"none of the {ran} repositories succeeded", details={"batch": summary})
        if failed:
            raise BatchPartial(f"{failed} of {ran} repositories failed", details={"batch": summary})
        return summary


def _raise_interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def read_stdin() -> str:
    return sys.stdin.read()
