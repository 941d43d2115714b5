"""Rule kinds: threshold, forecast (Theil-Sen), stale and auth, on explicit times."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from quota_watch.collect.periods import current_period
from quota_watch.engine.forecast import fit_trend, forecast_signal, theil_sen
from quota_watch.engine.health import AccountHealth, auth_signal, stale_signal
from quota_watch.engine.rulepack import EffectiveRules, RuleOverride, RulePack, effective_rules
from quota_watch.engine.signals import SeriesView, settle
from quota_watch.engine.threshold import held_severity, threshold_signal
from quota_watch.model import AccountStatus
from quota_watch.sdk import Measure, Period, PeriodKind, PeriodSpec

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
MONTH_START = datetime(2026, 3, 1, tzinfo=UTC)
MONTH_END = datetime(2026, 4, 1, tzinfo=UTC)
MONTH = Period(MONTH_START, MONTH_END)


def rules(**values: Any) -> EffectiveRules:
    """The default pack with one override applying everywhere, for a count limit."""
    entries = TypeAdapter(list[RuleOverride]).validate_python([values] if values else [])
    return effective_rules(
        RulePack(),
        entries,
        provider="p",
        account="a",
        limit="l",
        group=None,
        unit="count",
        cap=1000.0,
    )


def view(
    points: Sequence[tuple[datetime, float]],
    now: datetime,
    *,
    cap: float | None = 1000.0,
    measure: Measure = Measure.CUMULATIVE,
    kind: PeriodKind = PeriodKind.CALENDAR_MONTH,
    period: Period = MONTH,
) -> SeriesView:
    return SeriesView(
        provider="p",
        account="a",
        limit="l",
        unit="count",
        measure=measure,
        period_kind=kind,
        period=period,
        cap=cap,
        points=list(points),
        now=now,
    )


def linear(
    start: datetime, step: timedelta, count: int, first: float, rate_per_hour: float
) -> list[tuple[datetime, float]]:
    """`count` points from `start`, `step` apart, on value = first + rate * hours."""
    return [(start + i * step, first + rate_per_hour * (i * step / HOUR)) for i in range(count)]


def close(moment: datetime | None, expected: datetime) -> bool:
    """Equal to within a millisecond (float rates)."""
    return moment is not None and abs(moment - expected) < timedelta(milliseconds=1)


# --- threshold --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "active", "severity"),
    [
        (799, False, "warning"),
        (800, True, "warning"),
        (999, True, "warning"),
        (1000, True, "critical"),
        (2500, True, "critical"),
    ],
)
def test_threshold_levels(value: float, active: bool, severity: str) -> None:
    now = MONTH_START + DAY
    signal = threshold_signal(view([(now - HOUR, 10.0), (now, value)], now), rules())
    assert (signal.active, signal.severity) == (active, severity)
    assert signal.value == value
    assert signal.ratio == pytest.approx(value / 1000)
    assert signal.cap == 1000.0


def test_threshold_uses_the_newest_point_of_the_period() -> None:
    now = MONTH_START + HOUR
    old = (MONTH_START - HOUR, 5000.0)  # last month's total: not this period's value
    signal = threshold_signal(view([old, (MONTH_START + HOUR / 2, 10.0)], now), rules())
    assert not signal.active
    assert signal.value == 10.0


def test_threshold_without_cap_or_points_cannot_fire() -> None:
    now = MONTH_START + DAY
    assert not threshold_signal(view([(now, 5e9)], now, cap=None), rules()).active
    assert not threshold_signal(view([], now), rules()).active


def test_threshold_absolute_amounts() -> None:
    now = MONTH_START + DAY
    custom = effective_rules(
        RulePack(),
        TypeAdapter(list[RuleOverride]).validate_python([{"warning": "4 GB", "critical": "5GB"}]),
        provider="p",
        account="a",
        limit="l",
        group=None,
        unit="bytes",
        cap=10e9,
    )
    assert custom.warning == pytest.approx(0.4)
    assert custom.critical == pytest.approx(0.5)
    signal = threshold_signal(view([(now, 4.2e9)], now, cap=10e9), custom)
    assert (signal.active, signal.severity) == (True, "warning")
    signal = threshold_signal(view([(now, 5e9)], now, cap=10e9), custom)
    assert (signal.active, signal.severity) == (True, "critical")


def test_threshold_disabled() -> None:
    now = MONTH_START + DAY
    assert not threshold_signal(view([(now, 5000.0)], now), rules(threshold=False)).active


@pytest.mark.parametrize(
    ("ratio", "previous", "held"),
    [
        (1.2, "warning", "critical"),  # escalation at the plain threshold
        (0.99, "warning", "warning"),
        (0.96, "critical", "critical"),  # inside the 0.05 band below critical
        (0.95, "critical", "critical"),
        (0.949, "critical", "warning"),  # de-escalation below the band
        (0.76, "warning", "warning"),  # inside the band below warning
        (0.75, "warning", "warning"),
        (0.749, "warning", None),  # clears below the band
        (0.749, "critical", None),
        (None, "warning", None),
    ],
)
def test_held_severity_hysteresis(ratio: float | None, previous: Any, held: str | None) -> None:
    assert held_severity(ratio, previous, rules()) == held


# --- Theil-Sen --------------------------------------------------------------------------------

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(
    slope=finite,
    intercept=finite,
    n=st.integers(min_value=5, max_value=40),
    outlier_at=st.integers(min_value=0, max_value=39),
    outlier=st.floats(min_value=-1e9, max_value=1e9, allow_nan=False),
)
def test_theil_sen_ignores_a_single_outlier(
    slope: float, intercept: float, n: int, outlier_at: int, outlier: float
) -> None:
    xs = [float(i * 60) for i in range(n)]
    ys = [intercept + slope * x for x in xs]
    ys[outlier_at % n] = outlier
    fit = theil_sen(xs, ys)
    assert fit is not None
    fitted_slope, fitted_intercept = fit
    assert fitted_slope == pytest.approx(slope, rel=1e-9, abs=1e-9)
    assert fitted_intercept == pytest.approx(intercept, rel=1e-6, abs=1e-3)


def test_theil_sen_needs_two_distinct_x() -> None:
    assert theil_sen([1.0], [1.0]) is None
    assert theil_sen([1.0, 1.0], [1.0, 2.0]) is None
    with pytest.raises(ValueError, match="same length"):
        theil_sen([1.0, 2.0], [1.0])


def test_theil_sen_vs_least_squares_on_an_outlier() -> None:
    xs = [float(i) for i in range(10)]
    ys = [2.0 * x for x in xs]
    ys[9] = 1000.0  # a least-squares fit would be pulled far up by this
    fit = theil_sen(xs, ys)
    assert fit is not None
    assert fit[0] == pytest.approx(2.0)


def test_fit_of_many_points_is_thinned_but_exact_on_a_line() -> None:
    points = linear(MONTH_START, timedelta(minutes=1), 1440, 0.0, 60.0)
    fit = fit_trend(points)
    assert fit is not None
    assert fit.points == 1440
    assert fit.rate == pytest.approx(1 / 60)  # 60 per hour, in seconds
    assert fit.level == pytest.approx(points[-1][1])


# --- forecast: cumulative ---------------------------------------------------------------------


@settings(deadline=None)
@given(
    first=st.floats(min_value=0, max_value=1e6),
    rate=st.floats(min_value=0.001, max_value=1e4),
    count=st.integers(min_value=4, max_value=60),
    step_minutes=st.integers(min_value=1, max_value=20),
    day=st.integers(min_value=1, max_value=29),
)
def test_projection_on_linear_data_is_exact(
    first: float, rate: float, count: int, step_minutes: int, day: int
) -> None:
    start = MONTH_START + day * DAY
    points = linear(start, timedelta(minutes=step_minutes), count, first, rate)
    now = points[-1][0]
    signal = forecast_signal(view(points, now, cap=None), rules(forecast_min_span="3m"))
    hours_left = (MONTH_END - now) / HOUR
    assert signal.forecast_value == pytest.approx(points[-1][1] + rate * hours_left, rel=1e-9)


@settings(deadline=None)
@given(
    before=st.lists(
        st.tuples(st.integers(min_value=1, max_value=30 * 24 * 60), finite), max_size=30
    ),
    rate=st.floats(min_value=0.0, max_value=100.0),
)
def test_forecast_never_uses_points_before_the_period_start(
    before: list[tuple[int, float]], rate: float
) -> None:
    inside = linear(MONTH_START + HOUR, timedelta(minutes=10), 8, 100.0, rate)
    now = inside[-1][0]
    clean = forecast_signal(view(inside, now), rules(forecast_lookback="7d"))
    garbage = [(MONTH_START - timedelta(minutes=m), v) for m, v in before]
    polluted_points = sorted([*garbage, *inside])
    polluted = forecast_signal(view(polluted_points, now), rules(forecast_lookback="7d"))
    assert polluted == clean


def test_forecast_last_hour_of_the_day_extrapolates_its_rate() -> None:
    day = Period(datetime(2026, 3, 5, tzinfo=UTC), datetime(2026, 3, 6, tzinfo=UTC))
    start = datetime(2026, 3, 5, 23, tzinfo=UTC)
    # 5 points in the day's last hour at 1200/hour (the earlier polls missing)
    points = linear(start, timedelta(minutes=10), 5, 70_000.0, 1200.0)
    now = points[-1][0]  # 23:40
    signal = forecast_signal(
        view(points, now, cap=100_000.0, kind=PeriodKind.DAILY, period=day),
        rules(forecast_min_span="30m"),
    )
    assert signal.forecast_value == pytest.approx(70_800.0 + 1200.0 * 20 / 60)
    assert not signal.active


def test_forecast_fires_when_projected_over_cap_and_above_floor() -> None:
    # 20 per hour from 500 at mid-month: 500 + 20 * ~360 h > 1000
    start = MONTH_START + 15 * DAY
    points = linear(start, HOUR, 6, 500.0, 20.0)
    now = points[-1][0]
    signal = forecast_signal(view(points, now), rules())
    assert signal.active
    assert signal.sustained
    assert signal.forecast_value is not None and signal.forecast_value > 1000.0
    assert signal.forecast_utilization == pytest.approx(signal.forecast_value / 1000.0)
    assert close(signal.exhausts_at, now + timedelta(hours=(1000.0 - 600.0) / 20.0))
    assert signal.severity == "warning"


def test_forecast_below_floor_reports_figures_but_does_not_fire() -> None:
    start = MONTH_START + 10 * DAY
    points = linear(start, HOUR, 6, 200.0, 20.0)  # 300 now, floor 400
    now = points[-1][0]
    signal = forecast_signal(view(points, now), rules())
    assert not signal.active
    assert signal.forecast_value is not None and signal.forecast_value > 1000.0
    assert signal.exhausts_at is not None
    assert "below the floor" in signal.notes


def test_forecast_floor_override() -> None:
    start = MONTH_START + 10 * DAY
    points = linear(start, HOUR, 6, 300.0, 20.0)
    now = points[-1][0]
    assert forecast_signal(view(points, now), rules(forecast_floor=0.3)).active


def test_forecast_needs_min_points_in_the_lookback() -> None:
    start = MONTH_START + 15 * DAY
    points = linear(start, HOUR, 3, 900.0, 50.0)
    now = points[-1][0]
    signal = forecast_signal(view(points, now), rules())
    assert not signal.active
    assert signal.forecast_value is None and signal.exhausts_at is None
    assert signal.notes == ("too few points",)
    # the same 3 points suffice with min_points = 3 (and a min_span of their 2 hours)
    assert forecast_signal(
        view(points, now), rules(forecast_min_points=3, forecast_min_span="2h")
    ).active
    # points older than the lookback do not count
    old = linear(start - 4 * DAY, HOUR, 5, 100.0, 1.0)
    assert not forecast_signal(view([*old, *points], now), rules()).active


def test_forecast_projected_below_cap_does_not_fire() -> None:
    start = MONTH_START + 15 * DAY
    points = linear(start, HOUR, 6, 600.0, 0.5)  # ~ +190 by month end
    now = points[-1][0]
    signal = forecast_signal(view(points, now), rules())
    assert not signal.active
    assert signal.forecast_value is not None and signal.forecast_value < 1000.0
    assert signal.exhausts_at is None  # not before the period resets
    assert "no exhaustion projected" in signal.notes


def test_forecast_without_cap_has_value_but_no_utilization() -> None:
    start = MONTH_START + 15 * DAY
    points = linear(start, HOUR, 6, 600.0, 10.0)
    now = points[-1][0]
    signal = forecast_signal(view(points, now, cap=None), rules())
    assert not signal.active
    assert signal.forecast_value is not None
    assert signal.forecast_utilization is None and signal.exhausts_at is None


def test_forecast_disabled_keeps_figures() -> None:
    start = MONTH_START + 15 * DAY
    points = linear(start, HOUR, 6, 500.0, 20.0)
    now = points[-1][0]
    signal = forecast_signal(view(points, now), rules(forecast=False))
    assert not signal.active and not signal.sustained
    assert signal.forecast_value is not None


def test_forecast_sustained_band() -> None:
    # projects to 970 at month end: under the cap (not active) but within 5 % (sustained)
    now = MONTH_END - 10 * HOUR
    points = linear(now - 5 * HOUR, HOUR, 6, 895.0, 5.0)  # 920 now, +50 by the end
    signal = forecast_signal(view(points, now), rules())
    assert signal.forecast_value == pytest.approx(970.0)
    assert not signal.active
    assert signal.sustained


def test_forecast_already_exhausted_reports_when() -> None:
    start = MONTH_START + 20 * DAY
    points = linear(start, HOUR, 6, 900.0, 40.0)  # 900, 940, 980, 1020, 1060, 1100
    now = points[-1][0]
    signal = forecast_signal(view(points, now), rules())
    assert signal.active
    assert signal.exhausts_at == start + timedelta(hours=2.5)


def test_forecast_robust_to_a_spike() -> None:
    start = MONTH_START + 15 * DAY
    points = linear(start, HOUR, 8, 600.0, 1.0)
    points[4] = (points[4][0], 50_000.0)  # one absurd reading
    now = points[-1][0]
    signal = forecast_signal(view(points, now), rules())
    assert not signal.active
    hours_left = (MONTH_END - now) / HOUR
    assert signal.forecast_value == pytest.approx(607.0 + hours_left)


# --- forecast: level --------------------------------------------------------------------------


def level_view(points: Sequence[tuple[datetime, float]], now: datetime, **kw: Any) -> SeriesView:
    return view(
        points,
        now,
        measure=Measure.LEVEL,
        kind=PeriodKind.NONE,
        period=Period(None, None),
        **kw,
    )


def test_level_time_to_full_from_the_trend() -> None:
    start = datetime(2026, 3, 10, tzinfo=UTC)
    points = linear(start, HOUR, 10, 600.0, 3.0)  # 627 now, 3 per hour
    now = points[-1][0]
    signal = forecast_signal(level_view(points, now), rules())
    assert close(signal.exhausts_at, now + timedelta(hours=(1000 - 627) / 3))  # 124 h < 7 d
    assert signal.active
    assert signal.forecast_value == pytest.approx(627 + 3 * 24 * 7)


def test_level_beyond_horizon_does_not_fire() -> None:
    start = datetime(2026, 3, 10, tzinfo=UTC)
    points = linear(start, HOUR, 20, 600.0, 1.0)  # 619 now: 381 h to full > 168 h
    now = points[-1][0]
    signal = forecast_signal(level_view(points, now), rules())
    assert close(signal.exhausts_at, now + timedelta(hours=381))
    assert not signal.active
    assert forecast_signal(level_view(points, now), rules(forecast_horizon="20d")).active


@pytest.mark.parametrize("rate", [0.0, -3.0])
def test_level_flat_or_falling_never_exhausts(rate: float) -> None:
    start = datetime(2026, 3, 10, tzinfo=UTC)
    points = linear(start, HOUR, 10, 900.0, rate)
    now = points[-1][0]
    signal = forecast_signal(level_view(points, now), rules())
    assert signal.exhausts_at is None
    assert not signal.active
    assert signal.forecast_value == pytest.approx(max(points[-1][1] + rate * 24 * 7, 0.0))


def test_level_falling_forecast_is_never_negative() -> None:
    start = datetime(2026, 3, 10, tzinfo=UTC)
    points = linear(start, HOUR, 10, 100.0, -5.0)
    now = points[-1][0]
    assert forecast_signal(level_view(points, now), rules()).forecast_value == 0.0


def test_rolling_window_is_forecast_like_a_level() -> None:
    start = datetime(2026, 3, 10, tzinfo=UTC)
    points = linear(start, HOUR, 10, 600.0, 2.0)
    now = points[-1][0]
    rolling = current_period(PeriodSpec(kind=PeriodKind.ROLLING, window="30d"), now)
    signal = forecast_signal(view(points, now, kind=PeriodKind.ROLLING, period=rolling), rules())
    # the sample taken at `now` is used even though [now - 30d, now) excludes it
    assert signal.value == points[-1][1]
    assert close(signal.exhausts_at, now + timedelta(hours=(1000 - 618) / 2))


def test_level_already_full_reports_the_crossing() -> None:
    start = datetime(2026, 3, 10, tzinfo=UTC)
    values = [900.0, 990.0, 1010.0, 960.0, 1000.0, 1050.0]
    points = [(start + i * HOUR, v) for i, v in enumerate(values)]
    now = points[-1][0]
    signal = forecast_signal(level_view(points, now), rules())
    # newest run at/above 1000 began between 960 (3 h) and 1000 (4 h): at 4 h
    assert signal.exhausts_at == start + 4 * HOUR
    assert signal.active


# --- stale and auth ---------------------------------------------------------------------------

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


def health(**kw: Any) -> AccountHealth:
    values: dict[str, Any] = {
        "last_success_at": NOW - 10 * timedelta(minutes=5),
        "last_outcome": "unavailable",
        "consecutive_failures": 2,
        "interval": timedelta(minutes=10),
    }
    values.update(kw)
    return AccountHealth(**values)


@pytest.mark.parametrize(
    ("age_minutes", "active"), [(29, False), (30, False), (31, True), (600, True)]
)
def test_stale_after_n_intervals(age_minutes: int, active: bool) -> None:
    signal = stale_signal(
        health(last_success_at=NOW - timedelta(minutes=age_minutes)), rules(), NOW
    )
    assert signal.active is active
    assert signal.value == age_minutes * 60
    assert signal.cap == 1800
    assert signal.ratio == pytest.approx(age_minutes / 30)
    assert signal.severity == "warning"


def test_stale_after_runs_override() -> None:
    h = health(last_success_at=NOW - timedelta(minutes=45))
    assert stale_signal(h, rules(), NOW).active
    assert not stale_signal(h, rules(stale_after_runs=5), NOW).active
    assert not stale_signal(h, rules(stale=False), NOW).active


def test_stale_never_succeeded_counts_failed_polls() -> None:
    assert not stale_signal(
        health(last_success_at=None, consecutive_failures=2), rules(), NOW
    ).active
    assert stale_signal(health(last_success_at=None, consecutive_failures=3), rules(), NOW).active


def test_stale_never_polled_is_unknown_not_stale() -> None:
    h = AccountHealth.from_status(None, timedelta(minutes=10))
    assert not stale_signal(h, rules(), NOW).active
    assert not auth_signal(h, rules()).active


def test_stale_is_covered_by_auth() -> None:
    h = health(last_success_at=NOW - DAY, last_outcome="auth")
    assert not stale_signal(h, rules(), NOW).active
    assert stale_signal(h, rules(auth=False), NOW).active


def test_auth_signal_from_account_status() -> None:
    status = AccountStatus(
        provider="p",
        account="a",
        last_run_at=NOW,
        last_success_at=NOW - DAY,
        last_outcome="auth",
        last_error="token rejected",
        last_duration_seconds=0.2,
        runs_total=10,
        failures_total=1,
        consecutive_failures=1,
    )
    h = AccountHealth.from_status(status, timedelta(minutes=10))
    signal = auth_signal(h, rules())
    assert signal.active
    assert signal.severity == "critical"
    assert signal.value == 1.0
    assert not auth_signal(h, rules(auth=False)).active
    assert not auth_signal(health(last_outcome="success"), rules()).active


def test_points_after_now_are_ignored() -> None:
    now = MONTH_START + DAY
    future = (now + HOUR, 5000.0)
    signal = threshold_signal(view([(now, 10.0), future], now), rules())
    assert signal.value == 10.0


def test_series_view_accepts_stored_strings() -> None:
    now = MONTH_START + DAY
    stored = SeriesView(
        provider="p",
        account="a",
        limit="l",
        unit="count",
        measure="cumulative",  # type: ignore[arg-type]  # as the store keeps it
        period_kind="calendar_month",  # type: ignore[arg-type]
        period=MONTH,
        cap=1000.0,
        points=[(now, 900.0)],
        now=now,
    )
    assert stored.measure is Measure.CUMULATIVE
    assert stored.alert_period == MONTH
    assert stored.value == 900.0
    with pytest.raises(ValueError):
        dataclasses.replace(stored, measure="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone-aware"):
        dataclasses.replace(stored, now=datetime(2026, 3, 2))


# --- settled cumulative readings ----------------------------------------------------------------


def test_settle_drops_a_glitch_and_an_unconfirmed_fall() -> None:
    t = [MONTH_START + i * HOUR for i in range(6)]
    glitch = [(t[0], 10.0), (t[1], 20.0), (t[2], 0.0), (t[3], 30.0), (t[4], 40.0)]
    assert settle(glitch) == [glitch[0], glitch[1], glitch[3], glitch[4]]
    stray_up = [(t[0], 10.0), (t[1], 900.0), (t[2], 30.0), (t[3], 40.0)]
    assert settle(stray_up) == [stray_up[0], stray_up[2], stray_up[3]]
    unconfirmed = [(t[0], 10.0), (t[1], 20.0), (t[2], 5.0)]
    assert settle(unconfirmed) == unconfirmed[:2]


def test_settle_rebases_a_revision_and_restarts_after_a_reset() -> None:
    t = [MONTH_START + i * HOUR for i in range(6)]
    revised = [(t[0], 100.0), (t[1], 110.0), (t[2], 95.0), (t[3], 97.0)]
    # the earlier points move down by the 15 lost, keeping their rate
    assert settle(revised) == [(t[0], 85.0), (t[1], 95.0), (t[2], 95.0), (t[3], 97.0)]
    # a fall that stays above the reading before the last one: that last one was stray
    small = [(t[0], 100.0), (t[1], 110.0), (t[2], 105.0), (t[3], 107.0)]
    assert settle(small) == [small[0], small[2], small[3]]
    reset = [(t[0], 100.0), (t[1], 110.0), (t[2], 3.0), (t[3], 4.0)]
    assert settle(reset) == [(t[2], 3.0), (t[3], 4.0)]


def test_forecast_after_a_counter_reset_starts_from_the_new_level() -> None:
    # bug 1: "projected 120 %" for hours on a counter that restarted
    start = MONTH_START + 10 * DAY
    before = linear(start, HOUR, 8, 500.0, 40.0)  # 780 at 7 h
    after = linear(start + 8 * HOUR, HOUR, 4, 0.0, 0.0)  # reset, then stopped
    now = after[-1][0]
    signal = forecast_signal(view([*before, *after], now), rules(forecast_min_span="3h"))
    assert signal.value == 0.0
    assert signal.forecast_value == pytest.approx(0.0)
    assert not signal.active


def test_forecast_needs_min_span_as_well_as_min_points() -> None:
    # bug 3: 45 minutes of a flat 85 % level extrapolated 7 days ahead
    start = datetime(2026, 3, 10, tzinfo=UTC)
    points = linear(start, timedelta(minutes=5), 10, 850.0, 0.6)
    now = points[-1][0]
    signal = forecast_signal(level_view(points, now), rules())
    assert signal.forecast_value is None and not signal.active
    assert signal.notes == ("too short a history",)
    assert signal.points_used == 10
    assert signal.span_seconds == pytest.approx(45 * 60)
