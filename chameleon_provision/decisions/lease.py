"""Decision 4, the lease length: answer model, prompt, rules, and the window Blazar is asked for."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from pydantic import Field

from chameleon_provision.ai_client import AIClient, Answer
from chameleon_provision.errors import InputError
from chameleon_provision.models import DecidedBy, LeaseWindow, Requirements

BLAZAR_MINUTE = "%Y-%m-%d %H:%M"
DEFAULT_HOURS = 24.0  # Chameleon's own default lease length
SETUP_HOURS = 2.0  # boot (10-30 min), cloning, environment install
MIN_HOURS = 1.0

INSTRUCTIONS = (
    "Choose the length in hours of a Chameleon bare-metal lease for this repository's main workload: "
    "enough for setup (2 hours: boot, clone, install) plus the stated runtime with a margin, no longer. "
    "Unknown runtime: one working day. Never above max_hours."
)


class LeaseAnswer(Answer):
    hours: float = Field(ge=MIN_HOURS)
    reason: str


EARLIEST = "earliest"


def parse_start(text: str | None, now: datetime | None = None) -> str | None:
    """`--start`: None or "now" (start at once), "earliest", or a future "YYYY-MM-DD HH:MM" in UTC."""
    if text is None or text.strip().lower() in ("", "now"):
        return None
    if text.strip().lower() == EARLIEST:
        return EARLIEST
    try:
        when = datetime.strptime(text.strip().replace("T", " "), BLAZAR_MINUTE)
    except ValueError:
        raise InputError(f"--start {text!r} is not now, earliest or a UTC date like 2026-12-24 09:00") from None
    now = now or datetime.now(UTC).replace(tzinfo=None)
    if when < now.replace(second=0, microsecond=0):
        raise InputError(f"--start {text} is in the past (it is {now:%Y-%m-%d %H:%M} UTC now)")
    return when.strftime(BLAZAR_MINUTE)


def window(hours: float, now: datetime | None = None, start: datetime | None = None) -> tuple[str, str]:
    """Blazar start/end strings (UTC): start 'now' (or `start`), end `hours` after the start's minute.

    Blazar rounds 'now' down to the minute and measures the lease from there, so the end is counted
    from the same floor: a 168 h lease is then exactly Chameleon's 604800 s maximum, never a minute over.
    A fractional length is rounded down to the minute for the same reason.
    """
    now = now or datetime.now(UTC).replace(tzinfo=None)
    first = (start or now).replace(second=0, microsecond=0)
    end = first + timedelta(minutes=math.floor(hours * 60))
    return ("now" if start is None else first.strftime(BLAZAR_MINUTE)), end.strftime(BLAZAR_MINUTE)


def starting_at(lease: LeaseWindow, start: datetime, reason: str) -> LeaseWindow:
    """The same lease length from `start` (a booking for later)."""
    first, end = window(lease.hours, start=start)
    return LeaseWindow(first, end, lease.hours, lease.decided_by, f"{lease.reason}; {reason}")


def clamp_hours(hours: float, max_hours: float) -> float:
    return float(min(max(hours, MIN_HOURS), max_hours))


def rules_hours(req: Requirements) -> tuple[float, str]:
    if req.estimated_runtime_hours:
        hours = math.ceil(req.estimated_runtime_hours * 1.25 + SETUP_HOURS)
        return float(hours), f"stated runtime {req.estimated_runtime_hours:g} h + 25% + {SETUP_HOURS:g} h setup"
    if req.gpu.required == "yes" and req.gpu.count > 1:
        return 48.0, "multi-GPU training with no stated runtime: two days"
    return DEFAULT_HOURS, "no runtime stated: one day, Chameleon's default"


def lease_window(hours: float, decided_by: DecidedBy, reason: str, max_hours: float, now: datetime | None = None
                 ) -> LeaseWindow:
    clamped = clamp_hours(hours, max_hours)
    if clamped != hours:
        reason = f"{reason}; clamped to {clamped:g} h by policy"
    start, end = window(clamped, now)
    return LeaseWindow(start=start, end=end, hours=clamped, decided_by=decided_by, reason=reason)


def check_hours(answer: LeaseAnswer, max_hours: float) -> tuple[float, str]:
    """The policy bound the answer model cannot know: this run's --max-hours."""
    if answer.hours > max_hours:
        raise ValueError(f"hours must be between {MIN_HOURS:g} and {max_hours:g}, got {answer.hours:g}")
    return answer.hours, answer.reason[:200]


def decide_lease(ai: AIClient, req: Requirements, pinned_hours: float | None, max_hours: float) -> LeaseWindow:
    if pinned_hours is not None:
        return lease_window(pinned_hours, "pinned", "pinned with --hours", max_hours)
    outcome = ai.decide("lease_hours", instructions=INSTRUCTIONS,
                        data={"estimated_runtime_hours": req.estimated_runtime_hours,
                              "gpu": {"required": req.gpu.required, "count": req.gpu.count},
                              "frameworks": list(req.frameworks), "max_hours": max_hours,
                              "now_utc": datetime.now(UTC).replace(tzinfo=None).strftime(BLAZAR_MINUTE)},
                        answer=LeaseAnswer, validate=lambda a: check_hours(a, max_hours))
    if outcome.value is not None:
        return lease_window(outcome.value[0], "ai", outcome.value[1], max_hours)
    hours, reason = rules_hours(req)
    if outcome.note and ai.enabled:
        reason += f" (AI: {outcome.note})"
    return lease_window(hours, "rules", reason, max_hours)
