"""What the report shows: one entry per series (the JSON row, its pool, its daily trend),
the filters and the --fail-on verdict."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from quota_watch.model import SeriesKey
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
    "only_statuses",
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
    for reading in readings:
        key = (reading.account, reading.limit, reading.resource)
        slots: list[float | None] = [None] * days
        for day, top in maxima.get(key, ()):
            index = (day - first).days
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
    by_key: dict[SeriesKey, Entry] = {}
    for p in positions:
        key = (p.reading.account, p.reading.limit, p.reading.resource)
        row = make_row(p.reading, stale=p.stale, severity=p.severity or "ok", forecast=p.forecast)
        by_key[key] = Entry(row, p.group, trends.get(key, ()))
    return [
        by_key[(r.account, r.limit, r.resource)] for r in sort_rows(e.row for e in by_key.values())
    ]


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
