"""The one home of value, duration and time formatting."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from functools import partial

from quota_watch.units import (
    exact_span,
    format_days,
    iso_z,
    percent,
    relative,
    rounded_span,
    utc_minute,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_percent() -> None:
    assert percent(None) == "-"
    assert percent(math.nan, 1) == "-"
    assert percent(0.42) == "42%"
    assert percent(0.41666, 1) == "41.7%"


def test_format_days() -> None:
    assert format_days(None) == "-"
    assert format_days(0.5) == "12.0 h"
    assert format_days(3.46) == "3.5 d"


def test_moments() -> None:
    assert utc_minute(None) == "-"
    assert utc_minute(datetime(2026, 3, 1, 14, 5, tzinfo=timezone(timedelta(hours=2)))) == (
        "2026-03-01 12:05 UTC"
    )
    assert iso_z(NOW) == "2026-03-01T12:00:00Z"


def test_spans() -> None:
    assert rounded_span(timedelta(hours=4)) == "4h"
    assert rounded_span(timedelta(seconds=-90)) == "2m"
    assert rounded_span(timedelta(seconds=90), tenths_below=10) == "1.5m"
    assert rounded_span(timedelta(days=12), tenths_below=10) == "12d"
    assert rounded_span(timedelta(seconds=45)) == "45s"
    assert exact_span(timedelta(days=1, hours=3, minutes=5)) == "1d 3h"
    assert exact_span(timedelta(hours=-4)) == "4h"
    assert exact_span(timedelta(minutes=2, seconds=5)) == "2m 5s"
    assert exact_span(timedelta()) == "0s"


def test_relative_styles() -> None:
    assert relative(None, NOW) == "-"
    assert relative(NOW + timedelta(hours=4), NOW) == "in 4h"
    assert relative(NOW - timedelta(hours=4), NOW) == "4h ago"
    assert relative(NOW, NOW) == "in 0s"  # the plain table never says "now"
    rich = partial(relative, span=partial(rounded_span, tenths_below=10.0))
    assert rich(NOW, NOW, now_below=timedelta.resolution) == "now"
    assert rich(NOW + timedelta(minutes=90), NOW) == "in 1.5h"
    exact = partial(relative, span=exact_span, now_below=timedelta(seconds=1))
    assert exact(NOW + timedelta(milliseconds=500), NOW) == "now"
    assert exact(NOW - timedelta(days=1, hours=2), NOW) == "1d 2h ago"
