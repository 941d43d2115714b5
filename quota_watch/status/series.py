"""A series' recent samples read back from the store, as the engine's view."""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from quota_watch.collect.runtime import AccountRuntime
from quota_watch.engine.points import Points, to_micros
from quota_watch.engine.signals import SeriesView
from quota_watch.sdk import Measure, Period
from quota_watch.store.models import Point, StoredReading

if TYPE_CHECKING:
    from quota_watch.store.sqlite_reader import ReadStore


_DAILY_AT_MOST = timedelta(hours=25)
"""A calendar period this short is a day (23-25 h across a DST change)."""


def fetch_since(reading: StoredReading, now: datetime, lookback: timedelta) -> datetime:
    """Oldest sample the rules need: the forecast's lookback, never before the period start,
    except for a daily cap, whose within-day model compares earlier days' same hours."""
    since = now - lookback
    start, end = reading.period_start, reading.period_end
    daily = start is not None and end is not None and end - start <= _DAILY_AT_MOST
    if start is not None and reading.measure == Measure.CUMULATIVE.value and not daily:
        since = max(since, start)
    return since


def points_since(samples: Sequence[Point], since: datetime) -> Points:
    """Stored samples (oldest first) from `since` on, packed as the rules read them."""
    kept = [sample for sample in samples if sample.ts >= since]
    micros = array("q", [to_micros(sample.ts) for sample in kept])
    return Points(micros, array("d", [sample.value for sample in kept]))


def series_view(
    rt: AccountRuntime,
    reading: StoredReading,
    points: Sequence[tuple[datetime, float]],
    now: datetime,
) -> SeriesView:
    """The rules' view of one stored series; `points` are its (ts, value) samples, oldest
    first (packed Points are taken as they are, not copied)."""
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
        points=points,
        now=now,
        provider_forecast=reading.forecast,
    )


async def recent_views(
    store: ReadStore,
    rt: AccountRuntime,
    readings: Sequence[StoredReading],
    now: datetime,
    lookback: timedelta,
) -> list[SeriesView]:
    """The rules' views of `readings` (all of `rt`'s account) with the samples each needs
    (:func:`fetch_since` up to `now`): ONE query for all of them, not one per series."""
    if not readings:
        return []
    account = rt.config.name
    since = [fetch_since(reading, now, lookback) for reading in readings]
    found = await store.samples_of_accounts([account], min(since), now + timedelta(seconds=1))
    views = []
    for reading, start in zip(readings, since, strict=True):
        samples = found.get((account, reading.limit, reading.resource or None), [])
        views.append(series_view(rt, reading, points_since(samples, start), now))
    return views
