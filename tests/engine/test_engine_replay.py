"""Replaying series files (TOML and CSV) through the rules, and the shipped example month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from freezegun import freeze_time
from pydantic import TypeAdapter

from quota_watch.engine.replay import (
    SeriesFileError,
    load_series,
    parse_series_csv,
    parse_series_toml,
    replay,
)
from quota_watch.engine.rulepack import RuleOverride, RulePack
from quota_watch.engine.state import Transition
from quota_watch.sdk import Measure, PeriodKind, Unit

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "rules" / "examples" / "month_daily.toml"


def first(transitions: list[Transition], kind: str, alertname: str) -> Transition:
    return next(t for t in transitions if t.kind == kind and t.state.alertname == alertname)


# --- the shipped example ----------------------------------------------------------------------


def test_example_month_crosses_80_percent_on_day_20() -> None:
    series = load_series(EXAMPLE)
    assert series.spec.period.kind is PeriodKind.CALENDAR_MONTH
    assert series.spec.measure is Measure.CUMULATIVE
    assert series.spec.cap == 1_000_000
    cap = series.spec.cap
    crossing = next(ts for ts, value in series.points if value >= 0.8 * cap)
    assert crossing.date() == datetime(2026, 3, 20).date()


def test_example_month_forecast_fires_days_before_the_threshold() -> None:
    result = replay(load_series(EXAMPLE))
    transitions = result.transitions
    forecast = first(transitions, "firing", "QuotaPredictedFull")
    warning = first(transitions, "firing", "QuotaAlmostFull")
    lead = warning.at - forecast.at
    print(
        f"\nforecast fired {forecast.at:%Y-%m-%d %H:%M}, threshold warning "
        f"{warning.at:%Y-%m-%d %H:%M}: lead time {lead} ({lead / timedelta(days=1):.1f} days)"
    )
    assert lead >= timedelta(days=5)
    assert transitions[0] is forecast
    # the forecast fired on real figures: projected over the cap, used above the floor
    assert forecast.state.forecast_value is not None and forecast.state.forecast_value >= 1e6
    assert forecast.state.value >= 0.4e6
    assert forecast.state.exhausts_at is not None
    assert forecast.state.exhausts_at < datetime(2026, 4, 1, tzinfo=UTC)
    # warning fires on the second poll at >= 80 % (for_runs = 2), on day 20
    assert warning.at.date() == datetime(2026, 3, 20).date()
    assert warning.state.ratio is not None and warning.state.ratio >= 0.8


def test_example_month_full_lifecycle() -> None:
    result = replay(load_series(EXAMPLE))
    transitions = result.transitions
    escalated = first(transitions, "escalated", "QuotaFullyUsed")
    assert escalated.previous_severity == "warning"
    assert escalated.state.value >= 1e6
    # the quieter weekend stays inside the forecast's clearing band: no resolve/re-fire flapping
    assert [t.kind for t in transitions if t.kind in ("firing", "resolved")] == [
        "firing",
        "firing",
    ]
    # the threshold alert inhibits the forecast (one voice per limit): the forecast ends
    # quietly when the warning fires, and April's first poll sends ONE reset, with its figures
    april = datetime(2026, 4, 1, tzinfo=UTC)
    resets = [t for t in transitions if t.kind == "period_reset"]
    assert [t.state.alertname for t in resets] == ["QuotaFullyUsed"]
    assert all(t.at == april and t.state.value == 0.0 for t in resets)
    assert all(t.state.period_start == datetime(2026, 3, 1, tzinfo=UTC) for t in resets)
    warning = first(transitions, "firing", "QuotaAlmostFull")
    assert not [t for t in transitions if t.state.kind == "forecast" and t.at > warning.at]
    # reminders of the forecast are due 4 h, 8 h, 16 h, 24 h after the last message and go
    # out with the next 3-hourly poll; the warning continues that schedule (daily by then)
    forecast = [t for t in transitions if t.state.kind == "forecast"]
    gaps = [b.at - a.at for a, b in pairwise(forecast)]
    assert gaps[:4] == [timedelta(hours=h) for h in (6, 9, 18, 24)]
    threshold = [t for t in transitions if t.state.kind == "threshold"]
    assert threshold[1].at - threshold[0].at >= timedelta(hours=18)
    assert result.final_states and all(s.status == "resolved" for s in result.final_states)
    assert result.errors == []


def test_example_with_overrides_from_the_caller() -> None:
    series = load_series(EXAMPLE)
    no_forecast = TypeAdapter(list[RuleOverride]).validate_python(
        [{"match": {"limit": "api_requests"}, "forecast": False, "warning": "90%"}]
    )
    result = replay(series, RulePack(), no_forecast)
    names = {t.state.alertname for t in result.transitions}
    assert "QuotaPredictedFull" not in names
    warning = first(result.transitions, "firing", "QuotaAlmostFull")
    assert warning.state.ratio is not None and warning.state.ratio >= 0.9


# --- TOML files -------------------------------------------------------------------------------

DAILY = """
description = "a daily limit over two days"
[limit]
name = "requests"
provider = "cloudflare"
account = "cf-main"
unit = "count"
measure = "cumulative"
period = "daily"
cap = "100k"

[[rules]]
match = { limit = "requests" }
warning = 0.5

[[points]]
ts = 2026-03-05T20:00:00Z
value = 40000
[[points]]
ts = 2026-03-05T21:00:00Z
value = 55000
[[points]]
ts = 2026-03-05T22:00:00Z
value = 60000
[[points]]
ts = 2026-03-06T00:30:00+00:00
value = 100
"""


def test_toml_series_with_file_overrides() -> None:
    series = parse_series_toml(DAILY)
    assert series.limit == "requests"
    assert series.spec.cap == 100_000
    assert series.spec.unit is Unit.COUNT
    assert len(series.overrides) == 1
    result = replay(series)
    assert [(t.kind, t.state.alertname, t.at.hour) for t in result.transitions] == [
        ("firing", "QuotaAlmostFull", 22),
        ("period_reset", "QuotaAlmostFull", 0),
    ]
    assert result.transitions[0].state.account == "cf-main"
    # the caller's overrides come after the file's, so they win
    later = TypeAdapter(list[RuleOverride]).validate_python([{"warning": 0.7}])
    assert replay(series, overrides=later).transitions == []


def test_level_series_forecasts_time_to_full(tmp_path: Path) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    lines = [
        "[limit]",
        'unit = "bytes"',
        'measure = "level"',
        'cap = "10 GB"',
    ]
    for hour in range(8):
        ts = (start + timedelta(hours=hour)).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines += ["[[points]]", f"ts = {ts}", f"value = {6e9 + hour * 30e6}"]
    path = tmp_path / "disk.toml"
    path.write_text("\n".join(lines))
    result = replay(load_series(path))
    (firing,) = result.transitions
    assert firing.state.alertname == "QuotaPredictedFull"
    # 4 points over 3 h (min_points, min_span) reach 90 h ahead (MAX_EXTRAPOLATION x span):
    # the 129 h to full are in reach at 5 h of history, then for_runs 2
    assert firing.at == start + timedelta(hours=6)
    expected = start + timedelta(hours=6) + timedelta(hours=(10e9 - 6.18e9) / 30e6)
    assert firing.state.exhausts_at is not None
    assert abs(firing.state.exhausts_at - expected) < timedelta(seconds=1)
    assert result.final_forecast is not None and result.final_forecast.active


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[limit]\nunit='count'\nmeasure='level'\n", "points: required key is missing"),
        (
            "[limit]\nunit='count'\nmeasure='cumulative'\n[[points]]\nts=2026-03-01T00:00:00Z\nvalue=1\n",
            "a cumulative limit needs a period",
        ),
        (
            "[limit]\nunit='count'\nmeasure='level'\n[[points]]\nts=2026-03-01T00:00:00\nvalue=1\n",
            "must have a UTC offset",
        ),
        (
            "[limit]\nunit='count'\nmeasure='level'\ncolour='red'\n[[points]]\n"
            "ts=2026-03-01T00:00:00Z\nvalue=1\n",
            "limit.colour: unknown key",
        ),
        (
            "[limit]\nunit='count'\nmeasure='level'\ncap='4 GB'\n[[points]]\n"
            "ts=2026-03-01T00:00:00Z\nvalue=1\n",
            "unknown suffix 'GB'",
        ),
        (
            "[limit]\nunit='count'\nmeasure='level'\n[[points]]\nts=2026-03-01T01:00:00Z\n"
            "value=1\n[[points]]\nts=2026-03-01T00:00:00Z\nvalue=2\n",
            "points[1].ts: 2026-03-01T00:00:00+00:00 is not after the previous point",
        ),
        ("[limit\n", "invalid TOML"),
    ],
)
def test_toml_series_errors(text: str, message: str) -> None:
    with pytest.raises(SeriesFileError) as caught:
        parse_series_toml(text, "s.toml")
    assert message in str(caught.value)
    assert str(caught.value).startswith("s.toml")


# --- CSV files --------------------------------------------------------------------------------


def test_csv_series(tmp_path: Path) -> None:
    path = tmp_path / "usage.csv"
    path.write_text(
        "ts,value\n"
        "2026-03-05T10:00:00Z,850\n"
        "2026-03-05T10:10:00+00:00,900\n"
        f"{datetime(2026, 3, 5, 10, 20, tzinfo=UTC).timestamp():.0f},1001\n"
    )
    series = load_series(
        path, unit="count", measure="cumulative", period="daily", cap=1000, name="kv"
    )
    assert [v for _, v in series.points] == [850.0, 900.0, 1001.0]
    assert series.points[2][0] == datetime(2026, 3, 5, 10, 20, tzinfo=UTC)
    result = replay(series)
    assert [(t.kind, t.state.alertname) for t in result.transitions] == [
        ("firing", "QuotaAlmostFull"),
        ("escalated", "QuotaFullyUsed"),
    ]


@pytest.mark.parametrize(
    ("text", "meta", "message"),
    [
        ("time,amount\n2026-03-05T10:00:00Z,1\n", {}, "must name the columns ts and value"),
        ("ts,value\n2026-03-05T10:00:00,1\n", {}, "s.csv:2: expected an aware ISO 8601 ts"),
        ("ts,value\n2026-03-05T10:00:00Z,lots\n", {}, "s.csv:2:"),
        ("ts,value\n", {}, "no points"),
        ("ts,value\n2026-03-05T10:00:00Z,1\n", {"unit": None}, "unit"),
    ],
)
def test_csv_series_errors(text: str, meta: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"unit": "count", "measure": "level", **meta}
    with pytest.raises(SeriesFileError, match=message.replace("(", r"\(")):
        parse_series_csv(text, "s.csv", **arguments)


def test_metadata_arguments_are_for_csv_only() -> None:
    with pytest.raises(SeriesFileError, match="CSV files only"):
        load_series(EXAMPLE, unit="count")


def test_unreadable_file() -> None:
    with pytest.raises(SeriesFileError, match="cannot read"):
        load_series(Path("/nonexistent/series.toml"))


def test_replay_never_reads_the_clock() -> None:
    series = load_series(EXAMPLE)
    expected = replay(series).transitions
    with freeze_time("2099-01-01T00:00:00Z"):
        assert replay(series).transitions == expected
    with freeze_time("2000-01-01T00:00:00Z"):
        assert replay(series).transitions == expected
