"""A batch's progress on stderr: a live table on a terminal, one plain line per event otherwise (CI logs)."""

from __future__ import annotations

import threading
from typing import Any

from rich.live import Live
from rich.markup import escape
from rich.table import Table

from chameleon_provision.batch.inputs import BatchRow
from chameleon_provision.console import Streams

_STYLE = {"queued": "dim", "running": "yellow", "ok": "green", "failed": "red", "skipped": "dim"}


def _outcome(doc: dict[str, Any], code: int) -> str:
    if code != 0:
        error = doc.get("error", {})
        return f"exit {code}: {error.get('message', '')}"[:160]
    res = doc.get("resource", {})
    text = f"{res.get('node_type')} at {res.get('site')}, {doc.get('image', {}).get('name')}, " \
           f"{doc.get('cost', {}).get('su_total')} SU"
    return text + (f", {doc['ssh_command']}" if doc.get("ssh_command") else "")


class Board:
    def __init__(self, rows: list[BatchRow], streams: Streams) -> None:
        self.rows, self.streams = rows, streams
        self.state = ["queued"] * len(rows)
        self.detail = [""] * len(rows)
        self._lock = threading.Lock()
        self.live_table = streams.err.is_terminal and streams.verbosity >= 0
        self._live: Live | None = None

    def _line(self, index: int) -> None:
        if self.live_table or self.streams.verbosity < 0:
            return
        done = sum(1 for s in self.state if s in ("ok", "failed", "skipped"))
        row = self.rows[index]
        text = f"[{done}/{len(self.rows)}] {self.state[index]:<7} {row.label}" + \
               (f": {self.detail[index]}" if self.detail[index] else "")
        self.streams.err.print(escape(text), highlight=False, soft_wrap=True)

    def _table(self) -> Table:
        table = Table(box=None, pad_edge=False)
        for column in ("#", "repository", "state", "result"):
            table.add_column(column, overflow="fold" if column == "result" else "ellipsis")
        for i, row in enumerate(self.rows):
            style = _STYLE[self.state[i]]
            table.add_row(str(row.line), escape(row.label), f"[{style}]{self.state[i]}[/{style}]",
                          escape(self.detail[i]))
        return table

    def open(self) -> None:
        if self.live_table:
            self._live = Live(self._table(), console=self.streams.err, refresh_per_second=4, transient=False)
            self._live.start()

    def refresh(self) -> None:
        if self._live is not None:
            with self._lock:
                self._live.update(self._table())

    def _set(self, index: int, state: str, detail: str = "") -> None:
        with self._lock:
            self.state[index], self.detail[index] = state, detail
        self._line(index)

    def started(self, index: int) -> None:
        self._set(index, "running")

    def skipped(self, index: int) -> None:
        self._set(index, "skipped", "already answered (--resume-from)")

    def finished(self, index: int, doc: dict[str, Any], code: int) -> None:
        self._set(index, "ok" if code == 0 else "failed", _outcome(doc, code))

    def close(self) -> None:
        if self._live is not None:
            self.refresh()
            self._live.stop()
            self._live = None

    def summary(self, figures: dict[str, Any]) -> None:
        if self.streams.verbosity < 0:
            return
        self.streams.err.print(
            f"batch: {figures['succeeded']} succeeded, {figures['failed']} failed, {figures['skipped']} skipped "
            f"of {figures['repositories']} in {figures['seconds']:g} s; {figures['openstack_processes']} openstack "
            f"process(es), {figures['openstack_calls']} call(s)", highlight=False)
