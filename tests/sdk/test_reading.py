"""Reading: what a collector may state about its period and the provider's forecast."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from quota_watch.sdk import Reading

START = datetime(2026, 11, 17, 8, tzinfo=UTC)
END = datetime(2026, 12, 17, 8, tzinfo=UTC)


def test_a_reading_may_state_its_cycle_and_the_providers_forecast() -> None:
    reading = Reading(
        "bandwidth",
        5.0,
        period_start=START,
        period_end=END,
        period_zone="America/Los_Angeles",
        forecast=9.0,
    )
    assert (reading.period_end, reading.period_zone, reading.forecast) == (
        END,
        "America/Los_Angeles",
        9.0,
    )
    plain = Reading("bandwidth", 5.0)
    assert (plain.period_end, plain.period_zone, plain.forecast) == (None, None, None)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"period_end": datetime(2026, 12, 17)}, "period_end must be timezone-aware"),
        ({"period_start": END, "period_end": START}, "period_end must be after period_start"),
        ({"period_start": END, "period_end": END}, "period_end must be after period_start"),
        ({"period_zone": "Pacific Time"}, "'Pacific Time' is not an IANA time zone"),
        ({"period_zone": ""}, "is not an IANA time zone"),
        ({"forecast": -1.0}, "forecast must be finite and >= 0"),
        ({"forecast": math.nan}, "forecast must be finite and >= 0"),
        ({"forecast": math.inf}, "forecast must be finite and >= 0"),
    ],
)
def test_bad_statements_name_the_field(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Reading("bandwidth", 5.0, **changes)  # type: ignore[arg-type]
