"""A series' recent samples read back from the store, as the engine's view."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from quota_watch.collect.runtime import AccountRuntime
from quota_watch.engine.signals import SeriesView
from quota_watch.sdk import Measure, Period
from quota_watch.store import LatestReading, Point, StoredReading

if TYPE_CHECKING:
    pass


def fetch_since(
    reading: StoredReading | LatestReading, now: datetime, lookback: timedelta
) -> datetime:
    """Oldest sample the rules need: the forecast's lookback, never before the period start."""
    since = now - lookback
    if reading.period_start is not None and reading.measure == Measure.CUMULATIVE.value:
        since = max(since, reading.period_start)
    return since


def series_view(
    rt: AccountRuntime,
    reading: StoredReading | LatestReading,
    points: Sequence[Point],
    now: datetime,
) -> SeriesView:
    """The rules' view of one stored series."""
    spec = rt.limits[reading.limit]
    return SeriesView(
        provider=rt.provider,
        account=rt.config.name,
        group=rt.config.group,
        limit=reading.limit,
        resource=reading.resource,
        unit=reading.unit,
        measure=spec.measure,
        period_kind=spec.period.kind,
        period=Period(reading.period_start, reading.period_end),
        cap=reading.cap,
        points=[(p.ts, p.value) for p in points],
        now=now,
    )
