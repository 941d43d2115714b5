"""Each series' recent samples kept in memory, so the rules after a poll read nothing back."""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from math import ceil
from typing import TYPE_CHECKING

from quota_watch.collect.runtime import AccountRuntime
from quota_watch.engine.points import Points, to_micros
from quota_watch.engine.signals import SeriesView
from quota_watch.status.series import fetch_since, series_view
from quota_watch.store.models import StoredReading

if TYPE_CHECKING:
    from quota_watch.store.sqlite_reader import ReadStore

__all__ = ["SeriesWindows"]

_AHEAD = timedelta(seconds=1)  # as recent_views: samples up to now + 1 s count
_FAR_AHEAD = timedelta(days=3650)
_LOAD_SLICE_SAMPLES = 200
_LOAD_SLICES_AT_MOST = 24  # a 1-second interval's 3-day lookback: 24 reads, not 1,296
_MIN_INTERVAL = timedelta(seconds=1)


@dataclass(slots=True)
class _Ring:
    """One series' samples, oldest first: timestamps (µs since the epoch) and values, packed."""

    ts: array[int] = field(default_factory=lambda: array("q"))
    values: array[float] = field(default_factory=lambda: array("d"))

    def put(self, micros: int, value: float) -> None:
        """Add a sample; one at the same moment is replaced (as the store's upsert does)."""
        ts = self.ts
        if not ts or micros > ts[-1]:
            ts.append(micros)
            self.values.append(value)
            return
        at = bisect_left(ts, micros)
        if at < len(ts) and ts[at] == micros:
            self.values[at] = value
        else:
            ts.insert(at, micros)
            self.values.insert(at, value)

    def drop_before(self, micros: int) -> None:
        """Forget the samples older than `micros`."""
        cut = bisect_left(self.ts, micros)
        if cut:
            del self.ts[:cut]
            del self.values[:cut]

    def points(self, since: int, until: int) -> Points:
        """The samples with since <= ts < until, packed as the rules read them (a copy: the
        ring changes with the next poll)."""
        lo, hi = bisect_left(self.ts, since), bisect_left(self.ts, until)
        return Points(self.ts[lo:hi], self.values[lo:hi])


@dataclass(slots=True)
class _AccountWindow:
    loaded_since: int  # every sample from here on is in `series` (µs since the epoch)
    series: dict[tuple[str, str | None], _Ring]


class SeriesWindows:
    """The samples of every polled series over the rules' lookback, in memory.

    An account's samples are read from the store once, at its first evaluation (from
    `now - lookback`, the oldest any rule needs); after that each poll's own readings, already
    committed, are appended, and samples older than the lookback are dropped. The views are
    then the same as :func:`~quota_watch.status.series.recent_views` would read back.
    """

    def __init__(self) -> None:
        self._accounts: dict[str, _AccountWindow] = {}

    async def views(
        self,
        store: ReadStore,
        rt: AccountRuntime,
        readings: Sequence[StoredReading],
        now: datetime,
        lookback: timedelta,
    ) -> list[SeriesView]:
        """The rules' views of `readings` (all of `rt`'s account, just stored) with the
        samples each needs: read from the store only at an account's first use."""
        if not readings:
            return []
        account = rt.config.name
        oldest = to_micros(now - lookback)
        window = self._accounts.get(account)
        if window is None or oldest < window.loaded_since:
            window = await self._load(store, rt, now - lookback, now)
        else:
            for reading in readings:
                ring = window.series.get((reading.limit, reading.resource or None))
                if ring is None:
                    ring = window.series[(reading.limit, reading.resource or None)] = _Ring()
                ring.put(to_micros(reading.ts), reading.value)
        for ring in window.series.values():
            ring.drop_before(oldest)
        window.loaded_since = max(window.loaded_since, oldest)
        until = to_micros(now + _AHEAD)
        views = []
        for reading in readings:
            ring = window.series.get((reading.limit, reading.resource or None))
            start = to_micros(fetch_since(reading, now, lookback))
            points = ring.points(start, until) if ring is not None else Points()
            views.append(series_view(rt, reading, points, now))
        return views

    async def _load(
        self, store: ReadStore, rt: AccountRuntime, since: datetime, now: datetime
    ) -> _AccountWindow:
        # The samples start at the account's oldest one in the lookback: a new account (every
        # account on a first start) costs this one read, not one per slice of an empty
        # lookback (22 for the default's 3 days at 1 minute).
        oldest = (await store.oldest_samples([rt.config.name], since)).get(rt.config.name)
        series = await _read_slices(store, rt, oldest, now) if oldest is not None else {}
        window = self._accounts[rt.config.name] = _AccountWindow(to_micros(since), series)
        return window

    def held(self) -> tuple[int, int]:
        """(series, samples) held now; a sample costs 16 bytes (packed time and value)."""
        rings = [ring for window in self._accounts.values() for ring in window.series.values()]
        return len(rings), sum(len(ring.ts) for ring in rings)

    def forget(self, accounts: Collection[str] | None = None) -> None:
        """Drop the windows of `accounts` (all if None): they are read again at next use."""
        if accounts is None:
            self._accounts.clear()
        else:
            for account in accounts:
                self._accounts.pop(account, None)

    def keep_only(self, accounts: Collection[str]) -> None:
        """Drop the windows of accounts not in `accounts`."""
        self.forget([a for a in self._accounts if a not in accounts])


async def _read_slices(
    store: ReadStore, rt: AccountRuntime, oldest: datetime, now: datetime
) -> dict[tuple[str, str | None], _Ring]:
    """The account's samples from `oldest` on, read in slices of about _LOAD_SLICE_SAMPLES
    samples a series (as the interval would fill the span; a store that holds fewer has
    emptier slices)."""
    # Only one slice's rows (a row and its Point cost ~20x the 16 bytes a ring keeps) are
    # alive at a time, so the first evaluation after a start does not leave a heap the size
    # of the lookback's rows behind.
    series: dict[tuple[str, str | None], _Ring] = {}
    span = max(now - oldest, timedelta(0))  # a sample stamped ahead of now: one slice
    per_series = span / max(rt.config.interval, _MIN_INTERVAL)
    count = min(max(1, ceil(per_series / _LOAD_SLICE_SAMPLES)), _LOAD_SLICES_AT_MOST)
    step = span / count
    for index in range(count):
        start = oldest + index * step
        # No upper bound that `now` sets: a sample stamped ahead of this poll counts later.
        end = start + step if index + 1 < count else now + _FAR_AHEAD
        found = await store.samples_of_accounts([rt.config.name], start, end)
        for (_, limit, resource), points in found.items():
            ring = series.get((limit, resource))
            if ring is None:
                ring = series[(limit, resource)] = _Ring()
            for p in points:
                ring.put(to_micros(p.ts), p.value)
        del found
    return series
