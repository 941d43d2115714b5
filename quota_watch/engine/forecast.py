"""Forecast rule: robust (Theil-Sen) trend of the recent points, projected to exhaustion.

Cumulative limits with a calendar period project the value at the period's end from the rate of
the points within `lookback` (never from an earlier period: the view's points are cut at the
period start). Level limits (and rolling windows, whose value rises and falls like a level)
get the time at which the trend reaches the cap. Like node-exporter's disk-fill alerts, the rule
fires only with enough points and when the current value is above a floor share of the cap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from quota_watch.engine.points import Points, to_micros
from quota_watch.engine.rulepack import EffectiveRules
from quota_watch.engine.signals import SeriesView, Signal, noise_of, utilization
from quota_watch.sdk import Measure, PeriodKind

__all__ = [
    "MAX_BAND",
    "MAX_EXTRAPOLATION",
    "MAX_FIT_POINTS",
    "PROFILE_DAYS",
    "SIGNIFICANCE",
    "Fit",
    "clearing_band",
    "fit_trend",
    "forecast_signal",
    "lookback_of",
    "theil_sen",
]

MAX_BAND = 0.2
"""The widest clearing band read noise may give a series (a ratio of its cap)."""

PROFILE_DAYS = 3
"""Earlier days a daily cap's within-day model compares the same hours with."""

MAX_EXTRAPOLATION = 30.0
"""A level's trend is not projected further ahead than this many times the span it covers."""

SIGNIFICANCE = 2.0
"""A level's trend counts only when it rises more over its span than this many times the
series' noise (a flat series with jitter has a small, meaningless slope)."""

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


def _thinned(count: int, limit: int) -> Sequence[int]:
    """The indexes of at most `limit` of `count` points, evenly spaced, always keeping the
    first and the newest."""
    if count <= limit:
        return range(count)
    last = count - 1
    return sorted({round(i * last / (limit - 1)) for i in range(limit)})


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

    def residuals(self, points: Points) -> list[float]:
        """Each point's value less the trend's at its time."""
        level, rate, at = self.level, self.rate, to_micros(self.at)
        return [
            value - (level + rate * ((micros - at) / 1e6))
            for micros, value in zip(points.micros, points.values, strict=True)
        ]

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
    packed = points if isinstance(points, Points) else Points.of(points)
    used = _thinned(len(packed), MAX_FIT_POINTS)
    origin = packed.micros[used[0]]
    xs = packed.seconds_from(origin, used)
    ys = [packed.values[i] for i in used]
    line = theil_sen(xs, ys)
    if line is None:
        return None
    slope, intercept = line
    at = packed.micros[-1]
    level = intercept + slope * ((at - origin) / 1e6)
    return Fit(packed[-1][0], level, slope, len(packed))


def _reached_at(points: Sequence[tuple[datetime, float]], cap: float) -> datetime:
    """When the series (its newest point at/above `cap`) reached the cap, as far as `points`
    show: interpolated between the newest point below it and the next, else the first point."""
    for index in range(len(points) - 1, 0, -1):
        (t0, v0), (t1, v1) = points[index - 1], points[index]
        if v0 < cap:  # v1 >= cap: every later point was checked to be at/above the cap
            return t0 + (t1 - t0) * ((cap - v0) / (v1 - v0))
    return points[0][0]


def clearing_band(rules: EffectiveRules, noise: float, cap: float | None) -> float:
    """The clearing band of a series: clear_hysteresis, widened to three standard deviations
    of its read noise (at most MAX_BAND), so jitter around a threshold does not flap."""
    if cap is None or cap <= 0:
        return rules.clear_hysteresis
    return max(rules.clear_hysteresis, min(MAX_BAND, 3 * noise / cap))


def lookback_of(view: SeriesView, rules: EffectiveRules) -> timedelta:
    """How far back the fit looks: lookback_daily for daily caps, lookback for the rest."""
    return (
        rules.forecast_lookback_daily
        if view.period_kind is PeriodKind.DAILY
        else (rules.forecast_lookback)
    )


def _interpolate(points: Points, moment: datetime) -> float | None:
    """The series' value at `moment` (linear between the points around it; None outside)."""
    return points.value_around(to_micros(moment))


def _profile_share(
    days: Sequence[Points],
    start: datetime,
    now: datetime,
    until: datetime,
) -> float | None:
    """The median, over earlier days, of (usage from now's hour to until's) / (usage from the
    day's start to now's hour): how much more a day like those still brings. None when no
    earlier day covers the hours (each day's points are shifted onto today's times)."""
    shares = []
    for points in days:
        if not points or points[0][0] - start > timedelta(hours=1):
            continue
        at_start = _interpolate(points, max(start, points[0][0]))
        at_now = _interpolate(points, now)
        at_until = _interpolate(points, min(until, points[-1][0]))
        if points[-1][0] < until - timedelta(hours=1):
            continue  # that day was not seen to its end
        if at_start is None or at_now is None or at_until is None or at_now - at_start <= 0:
            continue
        shares.append(max(at_until - at_now, 0.0) / (at_now - at_start))
    return median(shares) if shares else None


def _period_end_value(
    view: SeriesView,
    rules: EffectiveRules,
    fit: Fit,
    window: Points,
    today: Points,
) -> tuple[float, Callable[[float], datetime | None], bool]:
    """(value at the period end, when a target is reached, whether the projection is trusted)
    of a cumulative calendar limit.

    Starts from the newest trusted value. On a daily cap the within-day model: the next
    half-window runs at the recent half-window's robust rate (an afternoon peak shows at
    once), weighed equally against what the same hours brought on earlier days (scaled to
    today's usage so far); the rest of the day brings what it brought on earlier days, or,
    without that history, runs at the day's average rate since its first point (`today`).
    Otherwise the window's robust rate carries the whole rest of the period. A daily cap
    without an earlier day to compare with is trusted only as far ahead as its window reaches
    back (a morning peak alone says little about the evening).
    """
    assert view.period.end is not None
    trusted = True
    value = window[-1][1]
    near_rate = rate = max(fit.rate, 0.0)
    near = 0.0
    start = view.period.start
    remaining = max((view.period.end - fit.at).total_seconds(), 0.0)
    if view.period_kind is PeriodKind.DAILY and start is not None:
        near = min(lookback_of(view, rules).total_seconds() / 2, remaining)
        recent = window.cut(to_micros(fit.at - timedelta(seconds=near)))
        recent_fit = fit_trend(recent) if len(recent) >= 2 else None
        if recent_fit is not None:
            near_rate = max(recent_fit.rate, 0.0)
        days = view.earlier_days(PROFILE_DAYS)
        split = fit.at + timedelta(seconds=near)
        near_share = _profile_share(days, start, fit.at, split)
        tail_share = _profile_share(days, start, split, view.period.end)
        if near_share is None or tail_share is None:
            trusted = remaining <= (fit.at - window[0][0]).total_seconds()
            seen = (fit.at - today[0][0]).total_seconds()
            if seen > 0:
                rate = max(value - today[0][1], 0.0) / seen
        else:
            # usage so far times the earlier days' after/before ratios, as rates per second
            used = max(value, 0.0)
            if near > 0:
                near_rate = (near_rate + used * near_share / near) / 2
            tail = remaining - near
            if tail > 0:
                # tail_share is relative to usage up to `split`: today's projected by then
                rate = (used + near_rate * near) * tail_share / tail
    first = min(near, remaining)
    forecast_value = value + near_rate * first + rate * (remaining - first)

    def reaches(target: float) -> datetime | None:
        if value >= target:
            return fit.at
        missing = target - value
        if near_rate * first >= missing:
            return fit.at + timedelta(seconds=missing / near_rate)
        if rate <= 0:
            return None
        seconds = first + (missing - near_rate * first) / rate
        return fit.at + timedelta(seconds=seconds) if seconds < remaining else None

    return forecast_value, reaches, trusted


def _project(
    view: SeriesView,
    rules: EffectiveRules,
    fit: Fit,
    points: Points,
    window: Points,
) -> tuple[float, datetime | None, bool, bool]:
    """(forecast_value, exhausts_at, projected to the period end, trusted) of a fitted
    series."""
    value = points[-1][1]
    cap = view.cap
    projected_to_end = (
        view.measure is Measure.CUMULATIVE and view.calendar and view.period.end is not None
    )
    exhausts_at: datetime | None = None
    trusted = True
    if projected_to_end:
        forecast_value, reaches, trusted = _period_end_value(view, rules, fit, window, points)
        if cap is not None and cap > 0:
            exhausts_at = _reached_at(points, cap) if value >= cap else reaches(cap)
    else:
        forecast_value = max(fit.value_at(view.now + rules.forecast_horizon), 0.0)
        if cap is not None and cap > 0:
            if value >= cap:
                exhausts_at = _reached_at(points, cap)
            else:
                crossing = fit.crossing(cap, fit.level)
                exhausts_at = None if crossing is None else max(crossing, view.now)
    return forecast_value, exhausts_at, projected_to_end, trusted


def _verdict(
    view: SeriesView,
    rules: EffectiveRules,
    value: float,
    forecast_value: float,
    exhausts_at: datetime | None,
    projected_to_end: bool,
    band: float,
    span: float,
    rate: float,
    noise: float,
) -> tuple[bool, bool, tuple[str, ...]]:
    """(active, sustained, notes) of a projection under the rule's guards."""
    cap = view.cap
    # The clearing band: a firing alert stays until the projection is clearly below the cap
    # (by the band), so a quieter weekend does not resolve and re-fire it.
    deadline = view.now + rules.forecast_horizon
    projected = held = False
    if cap is not None and cap > 0:
        if projected_to_end:
            projected = forecast_value >= cap
            held = forecast_value >= cap * (1 - band)
        elif exhausts_at is not None:
            # A trend is not run further ahead than MAX_EXTRAPOLATION times the time it covers.
            reach = view.now + timedelta(seconds=span * MAX_EXTRAPOLATION)
            rising = exhausts_at <= view.now or rate * span > SIGNIFICANCE * noise
            projected = rising and exhausts_at <= min(deadline, reach)
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
    """The forecast of one series: figures whenever min_points points spanning min_span are in
    the lookback window (even when not firing, or with the rule disabled), active when the
    guards pass.

    cumulative + calendar period: forecast_value = the value at period end, from the newest
    trusted value (SeriesView.trusted_points: glitches dropped, a fall confirmed before it
    counts, the fit restarted after a reset); active when it is >= cap. Otherwise:
    forecast_value = the trend at now + horizon; active when exhausts_at is within the horizon
    (and within MAX_EXTRAPOLATION times the fitted span). Both also need value >= floor * cap.
    exhausts_at is when the projection reaches the cap (None if it never does, or, for
    cumulative limits, not before the period resets); for a series already at/above the cap,
    when it got there as far as the points show. `sustained` (what keeps a FIRING alert
    firing) applies the clearing band h (clearing_band: clear_hysteresis or the noise): the
    projection may fall to (1 - h) * cap, the horizon stretch by (1 + h), the floor drop by h.
    """
    points = view.trusted_points()
    if not points:
        return Signal(kind="forecast", active=False, cap=view.cap, unit=view.unit)
    value = points[-1][1]
    cap = view.cap
    since = view.now - lookback_of(view, rules)
    window = points.cut(to_micros(since))
    span = (window.micros[-1] - window.micros[0]) / 1e6 if window else 0.0
    # Built once per outcome (no dataclasses.replace): this runs for every series and poll.
    base: dict[str, Any] = {
        "kind": "forecast",
        "value": value,
        "cap": cap,
        "ratio": utilization(value, cap),
        "unit": view.unit,
        "span_seconds": span,
    }
    if len(window) < rules.forecast_min_points:
        return Signal(active=False, points_used=len(window), notes=("too few points",), **base)
    if span < rules.forecast_min_span.total_seconds():
        return Signal(active=False, points_used=len(window), notes=("too short a history",), **base)
    fit = fit_trend(window)
    if fit is None:
        no_fit = ("no distinct timestamps",)
        return Signal(active=False, points_used=len(window), notes=no_fit, **base)

    noise = noise_of(fit.residuals(window))
    forecast_value, exhausts_at, to_end, trusted = _project(view, rules, fit, points, window)
    band = clearing_band(rules, noise, cap)
    active, held, notes = _verdict(
        view, rules, value, forecast_value, exhausts_at, to_end, band, span, fit.rate, noise
    )
    if not trusted:
        active = False
        notes = (*notes, "no earlier day to compare with yet")
    return Signal(
        **base,
        active=active,
        sustained=held,
        forecast_value=forecast_value,
        forecast_utilization=utilization(forecast_value, cap),
        exhausts_at=exhausts_at,
        rate=fit.rate,
        points_used=fit.points,
        noise=noise,
        notes=notes,
    )
