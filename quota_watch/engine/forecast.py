"""Forecast rule: robust (Theil-Sen) trend of the recent points, projected to exhaustion.

Cumulative limits with a calendar period project the value at the period's end from the rate of
the points within `lookback` (never from an earlier period: the view's points are cut at the
period start). Level limits (and rolling windows, whose value rises and falls like a level)
get the time at which the trend reaches the cap. Like node-exporter's disk-fill alerts, the rule
fires only with enough points and when the current value is above a floor share of the cap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from quota_watch.engine.rulepack import EffectiveRules
from quota_watch.engine.signals import SeriesView, Signal, utilization
from quota_watch.sdk import Measure

__all__ = ["MAX_FIT_POINTS", "Fit", "fit_trend", "forecast_signal", "theil_sen"]

MAX_FIT_POINTS = 120
"""At most this many points enter a fit (evenly thinned), bounding its O(n^2) pair count."""

_NEVER = timedelta(days=100 * 365)
"""A crossing further away than this counts as never."""


def theil_sen(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float] | None:
    """(slope, intercept) of the Theil-Sen line: the median pairwise slope and the median of
    y - slope * x. None without two distinct x. Up to 29 % of the points may be outliers."""
    if len(xs) != len(ys):
        raise ValueError("xs and ys must have the same length")
    slopes = [
        (ys[j] - ys[i]) / (xs[j] - xs[i])
        for i in range(len(xs))
        for j in range(i + 1, len(xs))
        if xs[j] != xs[i]
    ]
    if not slopes:
        return None
    slope = median(slopes)
    intercept = median(y - slope * x for x, y in zip(xs, ys, strict=True))
    return slope, intercept


def _thin(points: Sequence[tuple[datetime, float]], limit: int) -> Sequence[tuple[datetime, float]]:
    if len(points) <= limit:
        return points
    last = len(points) - 1
    # Evenly spaced indexes that always keep the first and the newest point.
    indexes = sorted({round(i * last / (limit - 1)) for i in range(limit)})
    return [points[i] for i in indexes]


@dataclass(frozen=True, slots=True)
class Fit:
    """A robust linear trend over (ts, value) points: value(ts) = level + rate * (ts - at)."""

    at: datetime  # the newest point's time
    level: float  # the trend's value at `at`
    rate: float  # per second
    points: int  # how many points were fitted (before thinning)

    def value_at(self, moment: datetime) -> float:
        """The trend's value at `moment`."""
        return self.level + self.rate * (moment - self.at).total_seconds()

    def crossing(self, target: float, start: float) -> datetime | None:
        """When the line through (at, start) with this rate reaches `target` (None if never)."""
        if start >= target:
            return self.at
        if self.rate <= 0:
            return None
        seconds = (target - start) / self.rate
        if seconds > _NEVER.total_seconds():
            return None  # practically never (and beyond what datetime can hold)
        return self.at + timedelta(seconds=seconds)


def fit_trend(points: Sequence[tuple[datetime, float]]) -> Fit | None:
    """The Theil-Sen trend of `points` (sorted by ts), or None without two distinct times."""
    if len(points) < 2:
        return None
    used = _thin(points, MAX_FIT_POINTS)
    origin = used[0][0]
    xs = [(ts - origin).total_seconds() for ts, _ in used]
    ys = [value for _, value in used]
    line = theil_sen(xs, ys)
    if line is None:
        return None
    slope, intercept = line
    at = points[-1][0]
    return Fit(at, intercept + slope * (at - origin).total_seconds(), slope, len(points))


def _reached_at(points: Sequence[tuple[datetime, float]], cap: float) -> datetime:
    """When the series (its newest point at/above `cap`) reached the cap, as far as `points`
    show: interpolated between the newest point below it and the next, else the first point."""
    for index in range(len(points) - 1, 0, -1):
        (t0, v0), (t1, v1) = points[index - 1], points[index]
        if v0 < cap:  # v1 >= cap: every later point was checked to be at/above the cap
            return t0 + (t1 - t0) * ((cap - v0) / (v1 - v0))
    return points[0][0]


def _project(
    view: SeriesView,
    rules: EffectiveRules,
    fit: Fit,
    points: Sequence[tuple[datetime, float]],
) -> tuple[float, datetime | None, bool]:
    """(forecast_value, exhausts_at, projected to the period end) of a fitted series."""
    value = points[-1][1]
    cap = view.cap
    period_end = view.period.end
    projected_to_end = (
        view.measure is Measure.CUMULATIVE and view.calendar and period_end is not None
    )
    exhausts_at: datetime | None = None
    if projected_to_end:
        assert period_end is not None
        # A cumulative value never falls within its period: start from the observed value
        # when the robust line runs below it.
        start = max(value, fit.level)
        forecast_value = start + max(fit.rate, 0.0) * (period_end - fit.at).total_seconds()
        if cap is not None and cap > 0:
            if value >= cap:
                exhausts_at = _reached_at(points, cap)
            else:
                crossing = fit.crossing(cap, start)
                exhausts_at = crossing if crossing is not None and crossing < period_end else None
    else:
        forecast_value = max(fit.value_at(view.now + rules.forecast_horizon), 0.0)
        if cap is not None and cap > 0:
            if value >= cap:
                exhausts_at = _reached_at(points, cap)
            else:
                crossing = fit.crossing(cap, fit.level)
                exhausts_at = None if crossing is None else max(crossing, view.now)
    return forecast_value, exhausts_at, projected_to_end


def _verdict(
    view: SeriesView,
    rules: EffectiveRules,
    value: float,
    forecast_value: float,
    exhausts_at: datetime | None,
    projected_to_end: bool,
) -> tuple[bool, bool, tuple[str, ...]]:
    """(active, sustained, notes) of a projection under the rule's guards."""
    cap = view.cap
    # The clearing band: a firing alert stays until the projection is clearly below the cap
    # (by clear_hysteresis), so a quieter weekend does not resolve and re-fire it.
    band = rules.clear_hysteresis
    deadline = view.now + rules.forecast_horizon
    projected = held = False
    if cap is not None and cap > 0:
        if projected_to_end:
            projected = forecast_value >= cap
            held = forecast_value >= cap * (1 - band)
        elif exhausts_at is not None:
            projected = exhausts_at <= deadline
            held = exhausts_at <= view.now + rules.forecast_horizon * (1 + band)
        floor = rules.forecast_floor * cap
        held = held and value >= floor - band * cap
        active = projected and value >= floor
    else:
        active = False
    notes: list[str] = []
    if not projected:
        notes.append("no exhaustion projected")
    elif not active:
        notes.append("below the floor")
    if not rules.forecast_enabled:
        active = held = False
        notes.append("disabled")
    return active, held, tuple(notes)


def forecast_signal(view: SeriesView, rules: EffectiveRules) -> Signal:
    """The forecast of one series: figures whenever min_points points are in the lookback
    window (even when not firing, or with the rule disabled), active when the guards pass.

    cumulative + calendar period: forecast_value = the value at period end; active when it is
    >= cap. Otherwise: forecast_value = the trend at now + horizon; active when exhausts_at is
    within the horizon. Both also need value >= floor * cap. exhausts_at is when the trend
    reaches the cap (None if it never does, or, for cumulative limits, not before the period
    resets); for a series already at/above the cap, when it got there as far as the points
    show (the crossing between two points, else the first point). `sustained` (what keeps a
    FIRING alert firing) applies clear_hysteresis h: the projection may fall to (1 - h) * cap,
    the horizon stretch by (1 + h), the floor drop by h.
    """
    points = view.points_in_period()
    if not points:
        return Signal(kind="forecast", active=False, cap=view.cap, unit=view.unit)
    value = points[-1][1]
    cap = view.cap
    base = Signal(
        kind="forecast",
        active=False,
        value=value,
        cap=cap,
        ratio=utilization(value, cap),
        unit=view.unit,
    )
    window = [p for p in points if p[0] >= view.now - rules.forecast_lookback]
    if len(window) < rules.forecast_min_points:
        return _with(base, points_used=len(window), note="too few points")
    fit = fit_trend(window)
    if fit is None:
        return _with(base, points_used=len(window), note="no distinct timestamps")

    forecast_value, exhausts_at, to_end = _project(view, rules, fit, points)
    active, held, notes = _verdict(view, rules, value, forecast_value, exhausts_at, to_end)
    return Signal(
        kind="forecast",
        active=active,
        sustained=held,
        severity="warning",
        value=value,
        cap=cap,
        ratio=base.ratio,
        forecast_value=forecast_value,
        forecast_utilization=utilization(forecast_value, cap),
        exhausts_at=exhausts_at,
        rate=fit.rate,
        unit=view.unit,
        points_used=fit.points,
        notes=notes,
    )


def _with(signal: Signal, *, points_used: int, note: str) -> Signal:
    return Signal(
        kind=signal.kind,
        active=False,
        value=signal.value,
        cap=signal.cap,
        ratio=signal.ratio,
        unit=signal.unit,
        points_used=points_used,
        notes=(note,),
    )
