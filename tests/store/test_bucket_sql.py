"""The SQLite bucket expression (a prefix of the stored text) against SQLite's own strftime."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from quota_watch.store.common import DAY, HOUR
from quota_watch.store.queries import bind_params, bucket_sql
from quota_watch.store.tables import SQLITE_DATETIME_FORMAT

_SHAPES = {HOUR: "%Y-%m-%d %H:00:00.000000", DAY: "%Y-%m-%d 00:00:00.000000"}


def _stored(moment: datetime) -> str:
    """The text the store's UTCDateTime column keeps for `moment` on SQLite."""
    utc = moment.astimezone(UTC)
    return SQLITE_DATETIME_FORMAT % {
        "year": utc.year,
        "month": utc.month,
        "day": utc.day,
        "hour": utc.hour,
        "minute": utc.minute,
        "second": utc.second,
        "microsecond": utc.microsecond,
    }


@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.just(UTC),
    ),
    st.sampled_from([HOUR, DAY]),
)
def test_bucket_is_what_strftime_gives(moment: datetime, granularity: str) -> None:
    stored = _stored(moment)
    assert stored == bind_params({"t": moment}, "sqlite")["t"]  # both writers agree
    with sqlite3.connect(":memory:") as conn:
        ours, sqlites = conn.execute(
            f"SELECT {bucket_sql('sqlite', granularity, ':t')}, strftime(:shape, :t)",
            {"t": stored, "shape": _SHAPES[granularity]},
        ).fetchone()
    assert ours == sqlites
