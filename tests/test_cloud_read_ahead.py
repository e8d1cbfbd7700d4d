"""Cloud.read_ahead: the plan's independent reads start early, each is taken once, and none goes stale."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chameleon_provision.cloud import operations
from chameleon_provision.cloud.operations import Cloud


class CountingRunner:
    def __init__(self) -> None:
        self.calls = 0
        self.seen: list[str] = []

    def run(self, args: Sequence[str], *, output: str = "json", timeout: float | None = None) -> Any:
        self.calls += 1
        self.seen.append(" ".join(args[:3]))
        if output == "none":
            return None
        return [{"id": str(self.calls), "Name": f"k{self.calls}", "Fingerprint": "aa"}]


def test_each_early_read_is_taken_once_then_reads_are_fresh() -> None:
    runner = CountingRunner()
    cloud = Cloud(runner)
    with ThreadPoolExecutor(max_workers=2) as pool:
        cloud.read_ahead(pool.submit)
        cloud.read_ahead(pool.submit)  # asking twice starts nothing more
        first = cloud.keypairs()
        assert cloud.hosts() and cloud.allocations()
    assert runner.calls == 3 and "floating ip list" not in runner.seen
    assert cloud.keypairs() != first and runner.calls == 4  # a later read sees the cloud as it is now


def test_a_change_or_time_drops_what_was_read_early(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CountingRunner()
    cloud = Cloud(runner)
    with ThreadPoolExecutor(max_workers=1) as pool:
        cloud.read_ahead(pool.submit, ["keypairs", "hosts"])
        pool.shutdown(wait=True)
    cloud.keypair_delete("old")  # a write: the early lists no longer describe the cloud
    cloud.keypairs()
    assert runner.calls == 4  # two early reads, the delete, and a fresh keypair list
    with ThreadPoolExecutor(max_workers=1) as pool:
        cloud.read_ahead(pool.submit, ["hosts"])
        pool.shutdown(wait=True)
    monkeypatch.setattr(operations, "READ_AHEAD_TTL", 0.0)
    cloud.hosts()
    assert runner.calls == 6  # too old to use: read again


def test_an_early_read_that_failed_fails_where_it_is_used() -> None:
    class Failing(CountingRunner):
        def run(self, args: Sequence[str], *, output: str = "json", timeout: float | None = None) -> Any:
            raise RuntimeError("boom")

    cloud = Cloud(Failing())
    with ThreadPoolExecutor(max_workers=1) as pool:
        cloud.read_ahead(pool.submit, ["hosts"])
        with pytest.raises(RuntimeError, match="boom"):
            cloud.hosts()
