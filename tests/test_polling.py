from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from chameleon_provision.cloud.polling import poll_intervals, wait_for_status
from chameleon_provision.errors import ProvisioningFailed


@dataclass(frozen=True)
class Thing:
    status: str


def test_reports_changes_and_returns_when_ready() -> None:
    seen: list[str] = []
    states = iter(["PENDING", "PENDING", "STARTING", "ACTIVE"])
    result = wait_for_status(lambda: Thing(next(states)), label="lease x", ready="ACTIVE", failed=("ERROR",),
                             timeout=10, poll=0, progress=seen.append)
    assert result.status == "ACTIVE"
    assert [line.split(" (")[0] for line in seen] == ["lease x: PENDING", "lease x: STARTING", "lease x: ACTIVE"]


def test_failed_status_and_deadline() -> None:
    with pytest.raises(ProvisioningFailed, match="went ERROR"):
        wait_for_status(lambda: Thing("ERROR"), label="server s", ready="ACTIVE", failed=("ERROR",), timeout=10,
                        poll=0, progress=lambda _m: None)
    with pytest.raises(ProvisioningFailed, match="not ACTIVE after 0 s"):
        wait_for_status(lambda: Thing("BUILD"), label="server s", ready="ACTIVE", failed=("ERROR",), timeout=0.01,
                        poll=0.005, progress=lambda _m: None)


def test_the_backoff_schedule_starts_fast_and_settles_at_the_poll_setting() -> None:
    assert list(itertools.islice(poll_intervals(10), 8)) == [0.5, 1, 2, 4, 8, 10, 10, 10]
    assert list(itertools.islice(poll_intervals(0.3), 3)) == [0.3, 0.3, 0.3]  # a small setting caps every step


@pytest.mark.parametrize("ready_at", [0.0, 0.2, 3.3, 37.0, 1234.5])
def test_readiness_is_seen_within_one_interval_plus_one_round_trip(ready_at: float) -> None:
    now, rtt, reads = [0.0], 0.05, []

    def fetch() -> Thing:
        now[0] += rtt  # one `server show` in the session
        reads.append(now[0])
        return Thing("ACTIVE" if now[0] >= ready_at else "BUILD")

    def sleep(seconds: float) -> None:
        now[0] += seconds

    wait_for_status(fetch, label="server s", ready="ACTIVE", failed=("ERROR",), timeout=3600, poll=10,
                    progress=lambda _m: None, clock=lambda: now[0], sleep=sleep)
    assert reads[-1] - ready_at <= 10 + rtt
    assert reads[0] == rtt  # the first read comes right after the create
    if ready_at > 100:
        assert len(reads) <= 5 + ready_at / 10 + 2  # no storm of reads during a long build
