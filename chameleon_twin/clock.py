"""The twin's clock: real UTC dates, with Chameleon's waiting times divided by --speed."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

# Chameleon's real pace, in seconds (reference/chameleon.md): Blazar's event loop starts a
# "now" lease within about a minute; an ironic bare-metal deploy takes about ten minutes.
LEASE_START_SECONDS = 60.0
SERVER_BOOT_SECONDS = 600.0
# Blazar's other transitions, as estimated by the twin (no public measurement): writing a lease or a
# change to it (trust, enforcement call, DB) takes seconds; ending or deleting one waits for Nova to
# delete its bare-metal servers and for the reserved addresses to go, about a minute.
LEASE_CREATE_SECONDS = 5.0
LEASE_UPDATE_SECONDS = 5.0
LEASE_END_SECONDS = 60.0
LEASE_DELETE_SECONDS = 60.0
# Nova's scheduler answers "No valid host" within seconds of the create call.
SERVER_SCHEDULE_SECONDS = 30.0
DEFAULT_SPEED = 60.0  # lease ACTIVE in ~1 s, server ACTIVE in ~10 s


class Clock:
    def __init__(self, speed: float = DEFAULT_SPEED) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Current UTC time as a naive datetime (Blazar and Nova dates carry no zone)."""
        with self._lock:
            offset = self._offset
        return datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=offset)

    def monotonic(self) -> float:
        with self._lock:
            return time.monotonic() + self._offset

    def scaled(self, real_seconds: float) -> timedelta:
        """How long something that takes `real_seconds` on Chameleon takes on the twin."""
        return timedelta(seconds=real_seconds / self.speed)

    def advance(self, seconds: float) -> None:
        """Jump forward (tests and the admin endpoint use this to end leases without waiting)."""
        with self._lock:
            self._offset += seconds


def blazar_date(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")


def db_date(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def iso_z(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")
