"""`quota-watch history`: one series' stored history by day (daily and hourly rollups, and
the raw samples not folded yet) as a table with a sparkline per day, or every stored row as
CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from quota_watch.reporting.sparkline import sparkline
from quota_watch.reporting.terminal import Column, Screen, TableRow
from quota_watch.units import human, iso_z

if TYPE_CHECKING:
    from quota_watch.store.models import Point, RollupPoint, StoredReading
    from quota_watch.store.sqlite_reader import ReadStore

__all__ = ["DayRow", "History", "HistoryError", "load_history", "to_csv", "to_table"]

CSV_COLUMNS = ("granularity", "start", "min", "max", "last", "count")
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)


class HistoryError(Exception):
    """An unknown account, limit or resource: the message lists the known ones."""


@dataclass
class DayRow:
    """One UTC day of the series: min, max, last and sample count, and the hourly maxima."""

    day: datetime
    min: float | None = None
    max: float | None = None
    last: float | None = None
    count: int = 0
    hours: list[float | None] = field(default_factory=lambda: [None] * 24)

    def add(self, low: float, high: float, last: float, count: int, at: datetime) -> None:
        """Fold in a bucket (or a sample) starting at `at` (later ones come later)."""
        self.min = low if self.min is None else min(self.min, low)
        self.max = high if self.max is None else max(self.max, high)
        self.last = last
        self.count += count
        hour = at.hour
        known = self.hours[hour]
        self.hours[hour] = high if known is None else max(known, high)


@dataclass
class History:
    """One series over the last days: its latest reading, the rows as stored, the days."""

    reading: StoredReading
    daily: list[RollupPoint]
    hourly: list[RollupPoint]
    samples: list[Point]
    days: list[DayRow]
    display_unit: str | None = None  # the limit's unit for people (limits.toml)


def _floor_day(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _pick(
    readings: Sequence[StoredReading], account: str, limit: str, resource: str | None
) -> StoredReading:
    accounts = sorted({r.account for r in readings})
    if account not in accounts:
        raise HistoryError(
            f"--account: no stored series for {account!r} "
            f"(accounts with history: {', '.join(accounts) or 'none yet'})"
        )
    mine = [r for r in readings if r.account == account]
    limits = sorted({r.limit for r in mine})
    if limit not in limits:
        raise HistoryError(
            f"--limit: {account!r} has no limit {limit!r} (its limits: {', '.join(limits)})"
        )
    series = [r for r in mine if r.limit == limit]
    resources = sorted(r.resource for r in series if r.resource is not None)
    if resource is None:
        if len(series) == 1:
            return series[0]
        raise HistoryError(
            f"--resource: {account}/{limit} is per resource; choose one of: {', '.join(resources)}"
        )
    for r in series:
        if r.resource == resource:
            return r
    raise HistoryError(
        f"--resource: {account}/{limit} has no resource {resource!r} "
        f"(its resources: {', '.join(resources) or 'none: leave --resource out'})"
    )


async def load_history(
    store: ReadStore,
    account: str,
    limit: str,
    resource: str | None,
    days: int,
    now: datetime,
) -> History:
    """The series' rows of the last `days` UTC days (today included), by day: the daily
    rollups, the hourly rollups of the days not folded into a daily bucket, and the raw
    samples after the newest hourly bucket (raw samples are kept for the raw retention)."""
    if days < 1:
        raise HistoryError(f"--days: must be at least 1, got {days}")
    reading = _pick(await store.latest(), account, limit, resource)
    key = (reading.account, reading.limit, reading.resource)
    first = _floor_day(now) - (days - 1) * _DAY
    daily = (await store.rollups_of_accounts([account], "day", first)).get(key, [])
    hourly = (await store.rollups_of_accounts([account], "hour", first)).get(key, [])
    raw_since = hourly[-1].bucket_start + _HOUR if hourly else first
    if daily:
        raw_since = max(raw_since, daily[-1].bucket_start + _DAY)
    samples = (
        await store.samples_of_accounts([account], raw_since, now + timedelta(seconds=1))
    ).get(key, [])

    rows = {first + i * _DAY: DayRow(first + i * _DAY) for i in range(days)}
    for point in hourly:
        row = rows.get(_floor_day(point.bucket_start))
        if row is not None:
            row.add(point.min, point.max, point.last, point.count, point.bucket_start)
    for sample in samples:
        row = rows.get(_floor_day(sample.ts))
        if row is not None:
            row.add(sample.value, sample.value, sample.value, 1, sample.ts)
    for point in daily:  # a daily bucket is the whole day: it wins over partial figures
        row = rows.get(point.bucket_start)
        if row is not None:
            row.min, row.max, row.last, row.count = point.min, point.max, point.last, point.count
    return History(reading, daily, hourly, samples, [rows[d] for d in sorted(rows)])


_COLUMNS = (
    Column("day", "DAY (UTC)"),
    Column("min", "MIN", right=True, drop=2),
    Column("max", "MAX", right=True),
    Column("last", "LAST", right=True),
    Column("samples", "SAMPLES", right=True, drop=1),
    Column("hours", "HOURLY MAXIMA 00-23", drop=3),
)
"""A narrow terminal drops the hourly sparkline first, then MIN, then SAMPLES."""


def to_table(history: History, *, width: int | None = None, colour: bool = False) -> str:
    """One line per day: min, max, last, samples, and a sparkline of the hourly maxima; the
    daily maxima as one sparkline on top (fitted to `width`, the terminal's when None)."""
    r = history.reading
    unit, display = r.unit, history.display_unit
    label = r.limit if r.resource is None else f"{r.limit}[{r.resource}]"
    cap = human(r.cap, unit, display) if r.cap is not None else "none"
    top = max((d.max for d in history.days if d.max is not None), default=None)
    scale = r.cap if r.cap else top
    screen = Screen(width=width, colour=colour)
    screen.paragraph(
        f"{r.provider} / {r.account} / {label}: {human(r.value, unit, display)} of {cap} "
        f"({r.measure}, unit {display or unit}), as of {iso_z(r.ts)}",
        rest="  ",
        style="bold",
    )
    screen.line(f"daily maxima: {sparkline([d.max for d in history.days], low=0.0, high=scale)}")
    screen.line()
    rows = [
        TableRow(
            {
                "day": day.day.date().isoformat(),
                "min": human(day.min, unit, display),
                "max": human(day.max, unit, display),
                "last": human(day.last, unit, display),
                "samples": str(day.count) if day.count else "-",
                "hours": sparkline(day.hours, low=0.0, high=scale) if day.count else "",
            }
        )
        for day in history.days
    ]
    screen.table(_COLUMNS, rows)
    return screen.text()


def to_csv(history: History) -> str:
    """Every stored row of the range (RFC 4180): daily and hourly rollups, then raw samples
    (min = max = last = the value, count 1), oldest first within each."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for granularity, points in (("day", history.daily), ("hour", history.hourly)):
        for p in points:
            writer.writerow((granularity, iso_z(p.bucket_start), p.min, p.max, p.last, p.count))
    for s in history.samples:
        writer.writerow(("sample", iso_z(s.ts), s.value, s.value, s.value, 1))
    return buffer.getvalue()
