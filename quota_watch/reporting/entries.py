"""What the report shows: one entry per series (the JSON row, its pool, its daily trend),
the filters and the --fail-on verdict."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from quota_watch.model import AlertState, SeriesKey, Silence
from quota_watch.status.position import Status
from quota_watch.status.rows import Row, make_row, sort_rows

if TYPE_CHECKING:
    from quota_watch.collect.runtime import AccountRuntime
    from quota_watch.engine.rulepack import RuleOverride, RulePack
    from quota_watch.status.position import SeriesPosition
    from quota_watch.store.models import StoredReading
    from quota_watch.store.sqlite_reader import ReadStore

__all__ = [
    "FAIL_LEVELS",
    "STATUSES",
    "TREND_DAYS",
    "Entry",
    "daily_maxima",
    "entries_of",
    "fails",
    "gather_entries",
    "grouped",
    "matching_silenced",
    "only_statuses",
    "silenced_series",
]

TREND_DAYS = 15
"""The sparkline's days: the 14 before today and today."""

STATUSES: tuple[Status, ...] = ("critical", "warning", "stale", "unknown", "ok")
FAIL_LEVELS: dict[str, frozenset[str]] = {
    "warning": frozenset({"critical", "warning", "stale"}),
    "critical": frozenset({"critical"}),
}
"""--fail-on level -> the statuses that fail it."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One series in the report: its row, the account's pool and the daily maxima."""

    row: Row
    group: str | None
    trend: tuple[float | None, ...]  # daily maxima, oldest first, the last one today

    @property
    def silenced(self) -> bool:
        """Whether a silence in force matches the series (row.silenced)."""
        return self.row.silenced


def _day(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


async def daily_maxima(
    store: ReadStore,
    readings: Sequence[StoredReading],
    now: datetime,
    days: int = TREND_DAYS,
) -> dict[SeriesKey, tuple[float | None, ...]]:
    """The maximum of each of the last `days` UTC days (today included) of every series in
    `readings`: what the rollups hold (one query, aggregated in the database), and the latest
    reading for what is not rolled up yet."""
    if not readings:
        return {}
    first = _day(now) - timedelta(days=days - 1)
    maxima = await store.daily_maxima({r.account for r in readings}, first)
    found: dict[SeriesKey, tuple[float | None, ...]] = {}
    indexes: dict[datetime, int] = {}  # a few distinct days across every series
    for reading in readings:
        key = (reading.account, reading.limit, reading.resource)
        slots: list[float | None] = [None] * days
        for day, top in maxima.get(key, ()):
            index = indexes.get(day)
            if index is None:
                index = indexes[day] = (day - first).days
            if 0 <= index < days:
                slots[index] = top
        index = (_day(reading.ts) - first).days
        if 0 <= index < days:
            known = slots[index]
            slots[index] = reading.value if known is None else max(known, reading.value)
        found[key] = tuple(slots)
    return found


async def gather_entries(
    store: ReadStore,
    runtimes: Mapping[str, AccountRuntime],
    pack: RulePack,
    overrides: Sequence[RuleOverride],
    now: datetime,
) -> list[Entry]:
    """The report's entries for the accounts in `runtimes`, riskiest first."""
    from quota_watch.status.position import load_positions

    positions = await load_positions(store, runtimes, pack, overrides, now)
    return await entries_of(store, positions, now)


async def entries_of(
    store: ReadStore, positions: Sequence[SeriesPosition], now: datetime
) -> list[Entry]:
    """The report's entries for already loaded `positions`, riskiest first."""
    trends = await daily_maxima(store, [p.reading for p in positions], now)
    silenced = await silenced_series(store, positions, now)
    by_key: dict[SeriesKey, Entry] = {}
    for p in positions:
        key = (p.reading.account, p.reading.limit, p.reading.resource)
        row = make_row(
            p.reading,
            stale=p.stale,
            severity=p.severity or "ok",
            forecast=p.forecast,
            display_unit=p.display_unit,
            silenced=key in silenced,
        )
        by_key[key] = Entry(row, p.group, trends.get(key, ()))
    return [
        by_key[(r.account, r.limit, r.resource)] for r in sort_rows(e.row for e in by_key.values())
    ]


_SERIES_MATCHERS = frozenset({"provider", "account", "limit", "resource", "group"})


def _series_fields(p: SeriesPosition) -> dict[str, str | None]:
    r = p.reading
    return {
        "provider": r.provider,
        "account": r.account,
        "limit": r.limit,
        "resource": r.resource,
        "group": p.group,
    }


def matching_silenced(
    positions: Sequence[SeriesPosition],
    silences: Sequence[Silence],
    alerts: Sequence[AlertState],
    now: datetime,
) -> set[SeriesKey]:
    """The series a silence in force at `now` matches: on the series' own fields (provider,
    account, limit, resource, group), or, for a silence naming an alert (alertname, kind),
    through one of the series' open alerts."""
    active = [s for s in silences if s.active(now)]
    if not active:
        return set()
    by_series: dict[SeriesKey, list[AlertState]] = {}
    for alert in alerts:
        if alert.limit is not None:
            by_series.setdefault((alert.account, alert.limit, alert.resource), []).append(alert)
    found: set[SeriesKey] = set()
    for p in positions:
        key = (p.reading.account, p.reading.limit, p.reading.resource)
        fields = _series_fields(p)
        for silence in active:
            if set(silence.matchers) <= _SERIES_MATCHERS:
                hit = all(
                    fields[k] is not None and str(fields[k]) == v
                    for k, v in silence.matchers.items()
                )
            else:
                hit = any(silence.matches(a, now) for a in by_series.get(key, ()))
            if hit:
                found.add(key)
                break
    return found


async def silenced_series(
    store: ReadStore, positions: Sequence[SeriesPosition], now: datetime
) -> set[SeriesKey]:
    """The series of `positions` a silence in force at `now` matches (read from the store)."""
    silences = await store.list_silences(now)
    if not any(s.active(now) for s in silences):
        return set()
    return matching_silenced(positions, silences, await store.load_alerts(), now)


def only_statuses(entries: Iterable[Entry], statuses: Collection[str]) -> list[Entry]:
    """The entries whose status is one of `statuses` (all of them when it is empty)."""
    return [e for e in entries if not statuses or e.row.status in statuses]


def fails(entries: Iterable[Entry], level: str | None) -> bool:
    """Whether any entry is at or above `level` ("warning" counts critical and stale too)."""
    if level is None:
        return False
    failing = FAIL_LEVELS[level]
    return any(e.row.status in failing for e in entries)


def grouped(entries: Sequence[Entry]) -> list[list[Entry]]:
    """The entries by (provider, account), each account's riskiest first, the accounts in the
    order of their riskiest series."""
    accounts: dict[tuple[str, str], list[Entry]] = {}
    for entry in entries:  # already riskiest first: insertion order is the account order
        accounts.setdefault((entry.row.provider, entry.row.account), []).append(entry)
    return list(accounts.values())
