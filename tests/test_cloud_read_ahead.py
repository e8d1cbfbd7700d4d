"""Cloud.read_ahead: the plan's independent reads start early, and each is taken once."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chameleon_provision.cloud.operations import Cloud


class CountingRunner:
    def __init__(self) -> None:
        self.calls = 0
        self.seen: list[str] = []

    def run(self, args: Sequence[str], *, output: str = "json", timeout: float | None = None) -> Any:
        self.calls += 1
        self.seen.append(" ".join(args[:3]))
        if args[0] == "floating":
            return [{"ID": f"f{self.calls}", "Floating IP Address": "192.5.87.10", "Port": None}]
        return [{"id": str(self.calls), "Name": "k", "Fingerprint": "aa"}]


def test_each_early_read_is_taken_once_then_reads_are_fresh() -> None:
    runner = CountingRunner()
    cloud = Cloud(runner)
    with ThreadPoolExecutor(max_workers=2) as pool:
        cloud.read_ahead(pool.submit)
        cloud.read_ahead(pool.submit)  # asking twice starts nothing more
        first = cloud.floating_ips()
        assert cloud.hosts() and cloud.allocations() and cloud.keypairs()
    assert runner.calls == 4
    again = cloud.floating_ips()  # a later read (acquiring the address) sees the cloud as it is now
    assert runner.calls == 5 and again[0].id != first[0].id


def test_an_early_read_that_failed_fails_where_it_is_used() -> None:
    class Failing(CountingRunner):
        def run(self, args: Sequence[str], *, output: str = "json", timeout: float | None = None) -> Any:
            raise RuntimeError("boom")

    cloud = Cloud(Failing())
    with ThreadPoolExecutor(max_workers=1) as pool:
        cloud.read_ahead(pool.submit, ["hosts"])
        with pytest.raises(RuntimeError, match="boom"):
            cloud.hosts()
