"""What the rule kinds read (SeriesView) and what they produce (Signal)."""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median
from typing import cast

from quota_watch.engine.points import Points, to_micros
from quota_watch.model import Severity
from quota_watch.sdk import Measure, Period, PeriodKind

__all__ = ["CALENDAR_PERIODS", "SeriesView", "Signal", "noise_of", "settle", "utilization"]

CALENDAR_PERIODS = frozenset(
    {PeriodKind.DAILY, PeriodKind.CALENDAR_MONTH, PeriodKind.BILLING_CYCLE}
)
"""Period kinds with fixed boundaries: a new one resets a cumulative limit."""


def utilization(value: float, cap: float | None) -> float | None:
    """value / cap, or None without a positive cap."""
    return value / cap if cap is not None and cap > 0 else None


def _below(value: float, reference: float) -> bool:
    return value < reference - 1e-9 * max(1.0, abs(reference))


def settle(points: Sequence[tuple[datetime, float]]) -> Points:
    """A cumulative series' points as the rules trust them: a reading that falls and is back
    at/above the previous level on the next poll is dropped (a glitch), so is one that stood
    above both its neighbours (a stray reading upwards), and a newest reading
    that fell (suspect until the next poll confirms it); a confirmed fall re-bases the earlier
    points onto the newest level (a revision), or, when it loses more than half the value,
    restarts from it (a counter reset)."""
    packed = points if isinstance(points, Points) else Points.of(points)
    times, values = packed.micros, packed.values
    kept_times: list[int] = []
    kept: list[float] = []
    for index, value in enumerate(values):
        if not kept or not _below(value, kept[-1]):
            kept_times.append(times[index])
            kept.append(value)
            continue
        if len(kept) >= 2 and not _below(value, kept[-2]):
            # the previous reading was a stray one upwards
            kept_times[-1], kept[-1] = times[index], value
            continue
        if index + 1 == len(values) or not _below(values[index + 1], kept[-1]):
            continue  # unconfirmed, or back up at once
        previous = kept[-1]
        # a reset restarts the trusted points; a revision shifts them onto the new level
        if value < previous / 2:
            kept_times, kept = [], []
        else:
            kept = [v - (previous - value) for v in kept]
        kept_times.append(times[index])
        kept.append(value)
    return Points(array("q", kept_times), array("d", kept))


def noise_of(residuals: Sequence[float]) -> float:
    """How far a series strays from its trend, given each point's `residuals` from it (a
    robust standard deviation, in its unit): read noise, jitter, or a sawtooth's swing around
    its mean."""
    if len(residuals) < 4:
        return 0.0
    middle = median(residuals)
    return 1.4826 * median(abs(r - middle) for r in residuals)


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesView:
    """One series of one account as the rules see it at `now`.

    `points` are (ts, value) samples, sorted by ts; the caller passes those of the current
    period, and the rules still ignore any outside it or after `now`. The newest point is the
    current value. `period_kind` tells calendar periods (whose start identifies the alert, and
    whose end a cumulative forecast projects to) from rolling and none.
    """

    provider: str
    account: str
    group: str | None = None
    limit: str
    resource: str | None = None
    unit: str
    measure: Measure
    period_kind: PeriodKind
    period: Period
    cap: float | None
    points: Sequence[tuple[datetime, float]]  # packed into Points (pairs are converted)
    now: datetime
    provider_forecast: float | None = None  # the provider's own value at period end, if any
    # Computed once per view: the value, the threshold and the forecast each read them.
    _in_period: Points | None = field(default=None, init=False, repr=False, compare=False)
    _trusted: Points | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Accept the stored strings ("cumulative", "daily") as well as the enums.
        object.__setattr__(self, "measure", Measure(self.measure))
        object.__setattr__(self, "period_kind", PeriodKind(self.period_kind))
        if not isinstance(self.points, Points):
            object.__setattr__(self, "points", Points.of(self.points))
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise ValueError("now must be timezone-aware")

    @property
    def value(self) -> float | None:
        """The current value (the newest point the rules use), or None without one."""
        points = self._points_in_period()
        return points[-1][1] if points else None

    @property
    def calendar(self) -> bool:
        """Whether the period has fixed boundaries (daily, calendar_month, billing_cycle)."""
        return self.period_kind in CALENDAR_PERIODS

    @property
    def alert_period(self) -> Period:
        """The period that identifies this series' alerts: the current one for cumulative
        limits with calendar periods (a new period starts fresh alerts), else unbounded."""
        if self.measure is Measure.CUMULATIVE and self.calendar:
            return self.period
        return Period(None, None)

    def earlier_days(self, days: int) -> list[Points]:
        """The points of each of up to `days` earlier periods of a daily limit (newest first;
        empty where the view holds none), shifted forward to the current period's times,
        settled like the current one. Empty for other period kinds."""
        start, end = self.period.start, self.period.end
        if self.period_kind is not PeriodKind.DAILY or start is None or end is None:
            return []
        length = end - start
        found: list[Points] = []
        for back in range(1, days + 1):
            first = start - back * length
            day = self._packed.cut(to_micros(first), to_micros(first + length))
            shifted = day.shifted(to_micros(start) - to_micros(first))
            found.append(settle(shifted) if self.measure is Measure.CUMULATIVE else shifted)
        return found

    @property
    def _packed(self) -> Points:
        """`points` as __post_init__ packed them."""
        return cast(Points, self.points)

    def trusted_points(self) -> Points:
        """The points in the period, settled (see `settle`) for a cumulative calendar limit,
        whose value may not fall within its period; as they are for the others."""
        trusted = self._trusted
        if trusted is None:
            points = self._points_in_period()
            calendar_cumulative = self.measure is Measure.CUMULATIVE and self.calendar
            trusted = settle(points) if calendar_cumulative else points
            object.__setattr__(self, "_trusted", trusted)
        return trusted  # immutable: shared by every caller

    def points_in_period(self) -> Points:
        """The points not after `now`, and for calendar periods inside the current one.

        Rolling and unbounded series are not cut: a rolling window's value is a level, and
        the window [now - w, now) would exclude the very sample taken at `now`.
        """
        return self._points_in_period()

    def _points_in_period(self) -> Points:
        """points_in_period, computed at the first call."""
        found = self._in_period
        if found is None:
            found = self._packed.through(to_micros(self.now))
            if self.calendar:
                start, end = self.period.start, self.period.end
                found = found.cut(
                    None if start is None else to_micros(start),
                    None if end is None else to_micros(end),
                )
            object.__setattr__(self, "_in_period", found)
        return found


@dataclass(frozen=True, slots=True, kw_only=True)
class Signal:
    """One rule kind's verdict on one series or account at one poll, with the current figures.

    `active` is the raw condition (no hysteresis, no for_runs: the state machine adds those).
    `sustained` is what keeps an already FIRING alert firing (the condition with its clearing
    band, see forecast.py); None means the same as `active`. Threshold alerts instead get
    their band from threshold.held_severity, which needs the previous severity.
    `value` is the current value (stale: seconds since the last success; auth: consecutive
    failed polls); `cap`/`ratio` are the cap and value/cap (stale: the allowed age and
    age/allowed). The forecast fields are filled whenever a forecast could be computed.
    """

    kind: str
    active: bool
    sustained: bool | None = None
    severity: Severity = "warning"
    value: float = 0.0
    cap: float | None = None
    ratio: float | None = None
    forecast_value: float | None = None
    forecast_utilization: float | None = None
    exhausts_at: datetime | None = None
    rate: float | None = None  # the forecast's trend, units per second
    unit: str = ""
    points_used: int = 0
    # Diagnostics of the fit, not stored with a forecast (so not compared either): the time
    # the fitted points cover, and the series' noise in its unit (widens the clearing band).
    span_seconds: float = field(default=0.0, compare=False)
    noise: float = field(default=0.0, compare=False)
    notes: tuple[str, ...] = field(default=())
