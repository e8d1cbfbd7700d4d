"""Waiting for a cloud resource to reach a status: a backoff schedule, progress and a deadline.

The schedule (docs/pipeline.md, "Waiting"): the first status read comes right after the create, the
next ones 0.5, 1, 2, 4 and 8 s apart, then one every `poll` seconds (PROVISION_POLL_SECONDS, 10 by
default), which also caps the early steps. A lease that starts at once is seen within a second;
a bare-metal server that takes 20 minutes is read every 10 s without a storm of early reads.
Each read is one `openstack … show` in the site's session (tens of milliseconds), so a resource is
seen ready at most one interval plus one command round trip after it is.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Protocol, TypeVar

from chameleon_provision.errors import ProvisioningFailed

BACKOFF = (0.5, 1.0, 2.0, 4.0, 8.0)


class HasStatus(Protocol):
    @property
    def status(self) -> str: ...


T = TypeVar("T", bound=HasStatus)


def poll_intervals(poll: float) -> Iterator[float]:
    """The pauses between status reads: BACKOFF, then `poll` forever; no pause longer than `poll`."""
    return (min(step, poll) for step in itertools.chain(BACKOFF, itertools.repeat(poll)))


def wait_for_status(fetch: Callable[[], T], *, label: str, ready: str, failed: tuple[str, ...], timeout: float,
                    poll: float, progress: Callable[[str], None], note: str = "",
                    on_failed: Callable[[T], ProvisioningFailed] | None = None,
                    clock: Callable[[], float] = time.monotonic,
                    sleep: Callable[[float], None] = time.sleep) -> T:
    """Read until `ready`; a status in `failed` or the deadline ends the wait with ProvisioningFailed.

    Progress is reported on every status change and once a minute while nothing changes, since
    bare metal can sit in BUILD for half an hour.
    """
    started = clock()
    last, last_minute = "", -1
    pauses = poll_intervals(poll)
    while True:
        current = fetch()
        elapsed = clock() - started
        if current.status != last or int(elapsed // 60) != last_minute:
            progress(f"{label}: {current.status} ({elapsed:.0f} s{note})")
            last, last_minute = current.status, int(elapsed // 60)
        if current.status == ready:
            return current
        if current.status in failed:
            raise (on_failed(current) if on_failed else
                   ProvisioningFailed(f"{label} went {current.status} before it was usable"))
        if elapsed > timeout:
            raise ProvisioningFailed(f"{label} not {ready} after {timeout:.0f} s (still {current.status})")
        # The last pause ends at the deadline, so the final read happens just after it, not a step later.
        sleep(max(0.0, min(next(pauses), timeout - elapsed + 0.01)))
