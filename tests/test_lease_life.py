"""Lease life without a cloud: Chameleon's extension rules, `--start`, and the commands' refusals."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from helpers import RunMain

from chameleon_provision.commands.extend import check_rules
from chameleon_provision.decisions.lease import EARLIEST, parse_start, starting_at, window
from chameleon_provision.errors import InputError, LeaseRefused
from chameleon_provision.models import LeaseWindow
from chameleon_provision.pipeline.planner import _soonest
from chameleon_provision.state.store import StateStore

NOW = datetime(2026, 12, 3, 12, 30, 15)


def test_an_extension_is_allowed_only_within_48_hours_of_the_end() -> None:
    check_rules("ACTIVE", NOW + timedelta(hours=47, minutes=59), timedelta(hours=2), NOW)
    with pytest.raises(LeaseRefused, match="within 48 h of its end") as info:
        check_rules("ACTIVE", NOW + timedelta(hours=72), timedelta(hours=2), NOW)
    assert info.value.hint == "try again after 2026-12-04 12:30 UTC"


def test_at_most_seven_days_are_added_and_only_to_a_lease_that_is_not_over() -> None:
    check_rules("PENDING", NOW + timedelta(hours=1), timedelta(hours=168), NOW)
    with pytest.raises(LeaseRefused, match="at most 7 days"):
        check_rules("ACTIVE", NOW + timedelta(hours=1), timedelta(hours=168, minutes=1), NOW)
    with pytest.raises(LeaseRefused, match="TERMINATED"):
        check_rules("TERMINATED", NOW - timedelta(hours=1), timedelta(hours=2), NOW)


def test_start_is_now_earliest_or_a_future_utc_minute() -> None:
    assert parse_start(None, NOW) is None and parse_start("now", NOW) is None
    assert parse_start("Earliest", NOW) == EARLIEST
    assert parse_start("2026-12-24T09:00", NOW) == "2026-12-24 09:00"
    assert parse_start("2026-12-03 12:30", NOW) == "2026-12-03 12:30"  # this minute is still fine for Blazar
    with pytest.raises(InputError, match="in the past"):
        parse_start("2026-12-03 12:29", NOW)
    with pytest.raises(InputError, match="not now, earliest or a UTC date"):
        parse_start("tomorrow", NOW)


def test_a_booked_window_keeps_its_length_from_the_start() -> None:
    assert window(24, NOW) == ("now", "2026-12-04 12:30")
    lease = starting_at(LeaseWindow("now", "x", 4.5, "rules", "default"), datetime(2026, 12, 24, 9, 0), "booked")
    assert (lease.start, lease.end, lease.hours) == ("2026-12-24 09:00", "2026-12-24 13:30", 4.5)
    assert lease.reason == "default; booked"


def test_the_earliest_start_is_the_first_whole_minute_a_node_frees() -> None:
    class Checked:
        def __init__(self, when: datetime | None) -> None:
            self.next_free = when

    assert _soonest([Checked(None)]) is None
    assert _soonest([Checked(datetime(2026, 12, 3, 15, 0, 30)), Checked(datetime(2026, 12, 3, 16, 0))]) == \
        datetime(2026, 12, 3, 15, 1)


def test_bad_start_and_missing_hours_are_input_errors(run_main: RunMain, tmp_path: Path) -> None:
    code, _, err = run_main(str(tmp_path), "--start", "yesterday", "--plan-only")
    assert code == 2 and "--start 'yesterday'" in err
    code, _, err = run_main("extend", "run-1")
    assert code == 2 and "--hours" in err
    code, _, err = run_main("extend", "run-1", "--hours", "200")
    assert code == 2


def test_extend_and_ssh_of_unknown_or_finished_runs_are_state_errors(run_main: RunMain, isolated_env: Path) -> None:
    code, _, err = run_main("extend", "nope", "--hours", "2", "--yes")
    assert code == 14 and "no run 'nope'" in err
    store = StateStore(isolated_env / "state" / "runs.sqlite3")
    store.new_run("run-1", source="./r", commit_sha=None, site="CHI@UC", mode="provision", name="prov-r")
    code, _, err = run_main("extend", "run-1", "--hours", "2", "--yes")
    assert code == 14 and "holds no lease" in err
    code, _, err = run_main("ssh", "run-1")
    assert code == 14 and "no ready node" in err
