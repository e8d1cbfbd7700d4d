"""Waiting for a cloud resource to reach a status, with progress and a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from chameleon_provision.errors import ProvisioningFailed


class HasStatus(Protocol):
    @property
    def status(self) -> str: ...


T = TypeVar("T", bound=HasStatus)


def wait_for_status(fetch: Callable[[], T], *, label: str, ready: str, failed: tuple[str, ...], timeout: float,
                    poll: float, progress: Callable[[str], None], note: str = "",
                    on_failed: Callable[[T], ProvisioningFailed] | None = None) -> T:
    """Poll until `ready`; a status in `failed` or the deadline ends the wait with ProvisioningFailed.

    Progress is reported on every status change and once a minute while nothing changes, since
    bare metal can sit in BUILD for half an hour.
    """
    started = time.monotonic()
    last, last_minute = "", -1
    while True:
        current = fetch()
        elapsed = time.monotonic() - started
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
        time.sleep(poll)
