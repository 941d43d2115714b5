"""The one home of value, duration and time formatting."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from functools import partial

import pytest
from pydantic import ValidationError

from quota_watch.sdk import LimitSpec, display_factor
from quota_watch.units import (
    exact_span,
    format_days,
    human,
    iso_z,
    percent,
    relative,
    rounded_span,
    used_of_cap,
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


@pytest.mark.parametrize(
    ("value", "cap", "unit", "display", "shown"),
    [
        (1391 * 60.0, 2000 * 60.0, "seconds", "minutes", "1,391 / 2,000 minutes"),  # GitHub
        (5 * 3600.0, 120 * 3600.0, "seconds", "core-hours", "5 / 120 core-hours"),  # Codespaces
        (0.0068, 0.01, "seconds", "ms", "6.8 / 10 ms"),  # Workers CPU
        (300 * 2.0**20, 500 * 2.0**20, "bytes", "MiB", "300 / 500 MiB"),  # GitHub storage
        (12.34 * 2**30, 100 * 2**30, "bytes", "GiB", "12.3 / 100 GiB"),  # Netlify bandwidth
        (5e8, 2**30, "bytes", "GiB", "477 MiB / 1 GiB"),  # the family scales, each side named
        (5_000.0, 13_000.0, "count", "GB-s", "5k / 13k GB-s"),  # Durable Objects
        (50 * 3600.0, 360 * 3600.0, "count", "GB-hours", "50 / 360 GB-hours"),  # Vercel
        (84_000.0, 100_000.0, "count", "requests", "84k / 100k requests"),
        (84_000.0, None, "count", "requests", "84k requests / -"),
        (6.6e8, 1e9, "bytes", None, "660 MB / 1 GB"),  # no display unit: the base unit's form
        (43_200.0, 120_000.0, "seconds", None, "12 h / 1.39 d"),
    ],
)
def test_values_in_the_providers_units(
    value: float, cap: float | None, unit: str, display: str | None, shown: str
) -> None:
    assert used_of_cap(value, cap, unit, display) == shown


def test_one_value_in_a_display_unit() -> None:
    assert human(2000 * 60.0, "seconds", "minutes") == "2,000 minutes"
    assert human(100 * 2.0**30, "bytes", "GiB") == "100 GiB"
    assert human(0.5 * 60, "seconds", "minutes") == "0.5 minutes"
    assert human(None, "seconds", "minutes") == "-"


@pytest.mark.parametrize(
    ("display", "unit", "message"),
    [
        ("minutes", "bytes", "'minutes' is for seconds, not bytes"),
        ("GiB", "seconds", "'GiB' is for bytes, not seconds"),
        ("fortnights", "seconds", "unknown display unit 'fortnights' for seconds"),
        ("two words", "count", "unknown display unit 'two words' for count"),
    ],
)
def test_a_display_unit_must_fit_the_base_unit(display: str, unit: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        display_factor(display, unit)
    spec = {"title": "t", "unit": unit, "measure": "level", "display_unit": display}
    with pytest.raises(ValidationError, match="display_unit"):
        LimitSpec.model_validate(spec)
