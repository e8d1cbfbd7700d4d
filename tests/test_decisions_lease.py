"""Decision 4: lease length rules, the policy clamp and the answer model."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import ValidationError

from chameleon_provision.decisions.lease import LeaseAnswer, check_hours, lease_window, rules_hours, window
from chameleon_provision.models import GpuNeed, Requirements


def test_window_is_minute_precision_utc_and_starts_now() -> None:
    start, end = window(6, now=datetime(2026, 11, 22, 10, 15, 30))
    assert start == "now"
    assert end == "2026-11-22 16:15"


@pytest.mark.parametrize("second", [0, 30, 59])
def test_seven_days_is_exactly_blazars_maximum(second: int) -> None:
    """Blazar floors 'now' to the minute; end minus that floor must not exceed 604800 s."""
    now = datetime(2026, 11, 22, 10, 15, second)
    _, end = window(168, now=now)
    assert (datetime.strptime(end, "%Y-%m-%d %H:%M") - now.replace(second=0)).total_seconds() == 604800


def test_rules_use_stated_runtime_plus_setup() -> None:
    hours, reason = rules_hours(Requirements(estimated_runtime_hours=6))
    assert hours == 10 and "stated runtime" in reason
    assert rules_hours(Requirements())[0] == 24
    assert rules_hours(Requirements(gpu=GpuNeed("yes", 4, 80, "nvidia")))[0] == 48


def test_policy_clamps_and_says_so() -> None:
    w = lease_window(400, "rules", "long job", max_hours=168, now=datetime(2026, 11, 22))
    assert w.hours == 168 and "clamped" in w.reason
    assert lease_window(0.1, "rules", "x", max_hours=24).hours == 1


def test_ai_answers_outside_policy_are_rejected() -> None:
    assert check_hours(LeaseAnswer(hours=8, reason="ok"), 24) == (8, "ok")
    with pytest.raises(ValueError, match="between"):
        check_hours(LeaseAnswer(hours=1000, reason="the README says so"), 168)


@pytest.mark.parametrize("hours", [float("nan"), float("inf"), 0.5, "8"])
def test_answer_model_refuses_non_finite_out_of_bounds_and_strings(hours: object) -> None:
    with pytest.raises(ValidationError):
        LeaseAnswer.model_validate({"hours": hours, "reason": "x"})
