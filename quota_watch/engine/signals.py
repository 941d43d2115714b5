"""What the rule kinds read (SeriesView) and what they produce (Signal)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from quota_watch.model import Severity
from quota_watch.sdk import Measure, Period, PeriodKind

__all__ = ["CALENDAR_PERIODS", "SeriesView", "Signal", "utilization"]

CALENDAR_PERIODS = frozenset(
    {PeriodKind.DAILY, PeriodKind.CALENDAR_MONTH, PeriodKind.BILLING_CYCLE}
)
"""Period kinds with fixed boundaries: a new one resets a cumulative limit."""


def utilization(value: float, cap: float | None) -> float | None:
    """value / cap, or None without a positive cap."""
    return value / cap if cap is not None and cap > 0 else None


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
    points: Sequence[tuple[datetime, float]]
    now: datetime
    provider_forecast: float | None = None  # the provider's own value at period end, if any

    def __post_init__(self) -> None:
        # Accept the stored strings ("cumulative", "daily") as well as the enums.
        object.__setattr__(self, "measure", Measure(self.measure))
        object.__setattr__(self, "period_kind", PeriodKind(self.period_kind))
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise ValueError("now must be timezone-aware")

    @property
    def value(self) -> float | None:
        """The current value (the newest point the rules use), or None without one."""
        points = self.points_in_period()
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

    def points_in_period(self) -> list[tuple[datetime, float]]:
        """The points not after `now`, and for calendar periods inside the current one.

        Rolling and unbounded series are not cut: a rolling window's value is a level, and
        the window [now - w, now) would exclude the very sample taken at `now`.
        """
        calendar = self.calendar
        kept = [
            (ts, v)
            for ts, v in self.points
            if ts <= self.now and (not calendar or ts in self.period)
        ]
        return sorted(kept, key=lambda point: point[0])  # already sorted: linear time


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
    notes: tuple[str, ...] = field(default=())
