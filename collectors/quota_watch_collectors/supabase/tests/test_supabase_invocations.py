"""Unit tests of the supabase collector's invocation accounting and payload parsing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from quota_watch_collectors.supabase.invocations import LOG_RETENTION, Status, Tally, plan_window
from quota_watch_collectors.supabase.models import ApiCountRow, parse_timestamp
from quota_watch_collectors.supabase.tests.support import CYCLE, NOW, ORG

# --- invocation accounting ---------------------------------------------------------------------


def _tally(
    until: datetime,
    count: int = 10,
    *,
    complete: bool = True,
    paused: bool = False,
    cycle: datetime = CYCLE,
) -> Tally:
    return Tally(ORG, cycle, until, count, complete, paused)


END = NOW - timedelta(minutes=5)


def test_window_continues_from_the_previous_poll() -> None:
    plan = plan_window(
        _tally(END - timedelta(minutes=10)),
        org=ORG,
        status=Status.RUNNING,
        cycle_start=CYCLE,
        created_at=None,
        end=END,
    )
    assert plan.window_end == END
    assert plan.tally.counted_until == END - timedelta(minutes=10)
    after = plan.counted(5)
    assert (after.count, after.counted_until, after.complete) == (15, END, True)


def test_window_older_than_the_log_retention_makes_the_cycle_incomplete() -> None:
    plan = plan_window(
        _tally(END - timedelta(hours=30)),
        org=ORG,
        status=Status.RUNNING,
        cycle_start=CYCLE,
        created_at=None,
        end=END,
    )
    assert plan.tally.counted_until == END - LOG_RETENTION
    assert plan.tally.complete is False
    assert plan.counted(3).count == 13  # still counted, never reported this cycle


def test_first_poll_counts_from_the_project_creation_when_it_is_recent() -> None:
    created = NOW - timedelta(hours=3)
    plan = plan_window(
        None, org=ORG, status=Status.RUNNING, cycle_start=CYCLE, created_at=created, end=END
    )
    assert (plan.tally.counted_until, plan.tally.complete, plan.window_end) == (created, True, END)


def test_a_new_cycle_resets_the_tally() -> None:
    old = _tally(CYCLE - timedelta(minutes=7), 499_000, cycle=datetime(2026, 10, 1, tzinfo=UTC))
    plan = plan_window(
        old,
        org=ORG,
        status=Status.RUNNING,
        cycle_start=CYCLE,
        created_at=None,
        end=CYCLE + timedelta(minutes=20),
    )
    assert (plan.tally.count, plan.tally.counted_until, plan.tally.complete) == (0, CYCLE, True)


def test_poll_just_after_the_cycle_start_counts_nothing_yet() -> None:
    plan = plan_window(
        None,
        org=ORG,
        status=Status.RUNNING,
        cycle_start=CYCLE,
        created_at=None,
        end=CYCLE - timedelta(minutes=2),
    )
    assert plan.window_end is None
    assert (plan.tally.counted_until, plan.tally.complete) == (CYCLE, True)


def test_paused_at_both_polls_counts_zero_without_a_request() -> None:
    previous = _tally(END - timedelta(days=3), paused=True)
    plan = plan_window(
        previous, org=ORG, status=Status.PAUSED, cycle_start=CYCLE, created_at=None, end=END
    )
    assert plan.window_end is None
    assert (plan.tally.counted_until, plan.tally.count, plan.tally.complete) == (END, 10, True)


def test_paused_across_the_cycle_start_gives_a_complete_zero() -> None:
    previous = _tally(
        CYCLE - timedelta(days=2), 77, paused=True, cycle=datetime(2026, 10, 1, tzinfo=UTC)
    )
    plan = plan_window(
        previous, org=ORG, status=Status.PAUSED, cycle_start=CYCLE, created_at=None, end=END
    )
    assert (plan.tally.count, plan.tally.complete, plan.tally.counted_until) == (0, True, END)


def test_a_project_that_just_paused_is_counted_once_more() -> None:
    plan = plan_window(
        _tally(END - timedelta(minutes=10)),
        org=ORG,
        status=Status.PAUSED,
        cycle_start=CYCLE,
        created_at=None,
        end=END,
    )
    assert plan.window_end == END
    assert plan.tally.paused is True


def test_a_restarting_project_waits_for_the_next_poll() -> None:
    start = END - timedelta(minutes=10)
    plan = plan_window(
        _tally(start), org=ORG, status=Status.OTHER, cycle_start=CYCLE, created_at=None, end=END
    )
    assert plan.window_end is None
    assert plan.tally.counted_until == start


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "x",
        {},
        {
            "org": ORG,
            "cycle_start": "nope",
            "counted_until": "2026-11-01T00:00:00Z",
            "count": 1,
            "complete": True,
        },
        {
            "org": ORG,
            "cycle_start": "2026-11-01T00:00:00Z",
            "counted_until": "2026-11-01T00:00:00Z",
            "count": -1,
            "complete": True,
        },
        {
            "org": ORG,
            "cycle_start": "2026-11-01T00:00:00Z",
            "counted_until": "2026-11-01T00:00:00Z",
            "count": True,
            "complete": True,
        },
    ],
)
def test_unreadable_state_is_ignored(raw: Any) -> None:
    assert Tally.from_json(raw) is None


def test_tally_round_trips_through_json() -> None:
    tally = _tally(END, 42, complete=False, paused=True)
    assert Tally.from_json(json.loads(json.dumps(tally.to_json()))) == tally


# --- payload parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-16T00:00:00", datetime(2026, 11, 16, tzinfo=UTC)),
        ("2026-11-16T02:00:00+02:00", datetime(2026, 11, 16, tzinfo=UTC)),
        ("2026-11-16T00:00:00Z", datetime(2026, 11, 16, tzinfo=UTC)),
        (1794787200, datetime(2026, 11, 16, tzinfo=UTC)),
        (1794787200000, datetime(2026, 11, 16, tzinfo=UTC)),
        (1794787200000000, datetime(2026, 11, 16, tzinfo=UTC)),
    ],
)
def test_timestamps_are_utc(raw: Any, expected: datetime) -> None:
    assert parse_timestamp(raw) == expected


def test_counts_may_be_strings_but_not_negative() -> None:
    row = {
        "timestamp": "2026-11-16T00:00:00Z",
        "total_auth_requests": "3",
        "total_realtime_requests": 0,
        "total_rest_requests": 2.0,
        "total_storage_requests": 1,
    }
    assert ApiCountRow.model_validate(row).total == 6
    with pytest.raises(ValueError):
        ApiCountRow.model_validate({**row, "total_rest_requests": -1})
