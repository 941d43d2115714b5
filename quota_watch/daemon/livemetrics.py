"""/metrics kept current as polls finish: each account's latest readings and poll health in
memory, rendered once per change, so a scrape reads nothing from the store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from quota_watch.collect.poller import PollResult
from quota_watch.engine.signals import Signal
from quota_watch.model import AccountStatus, SeriesKey
from quota_watch.prometheus.exposition import AccountFacts, ForecastFacts, LiveExposition
from quota_watch.store.models import StoredReading, StoreError

log = logging.getLogger("quota_watch.daemon.livemetrics")

#: The daemon-wide facts that live in the store (firing alerts, outbox depth) are re-read at
#: most this often after polls, and at least every IDLE_REFRESH_SECONDS (deliveries).
REFRESH_SECONDS = 1.0
IDLE_REFRESH_SECONDS = 5.0


class LatestSource(Protocol):
    """The store reads that seed the in-memory view (at start, after reload and retention)."""

    async def latest(self, *, accounts: Collection[str] | None = None) -> list[StoredReading]:
        """The newest reading of every series of `accounts`."""
        ...

    async def account_statuses(self, *, account: str | None = None) -> list[AccountStatus]:
        """Poll health of every account."""
        ...


@dataclass(frozen=True)
class DaemonWideFacts:
    """Firing alerts by severity and outbox depth by notifier, as last read."""

    firing: Mapping[str, int] = field(default_factory=dict)
    outbox_depth: Mapping[str, int] = field(default_factory=dict)


def _series_key(r: StoredReading) -> tuple[str, str]:
    return (r.limit, r.resource or "")


class LiveMetrics:
    """Each configured account's newest readings and status, pre-rendered for /metrics."""

    def __init__(self, forecasts: Callable[[], Mapping[SeriesKey, Signal]]) -> None:
        self.exposition = LiveExposition()
        self.daemon_wide = DaemonWideFacts()
        self._forecasts = forecasts
        self._readings: dict[str, dict[tuple[str, str], StoredReading]] = {}
        self._statuses: dict[str, AccountStatus] = {}
        self._dirty = asyncio.Event()

    def set_accounts(self, accounts: Sequence[AccountFacts]) -> None:
        """The configured accounts; the others' readings and status are dropped."""
        self.exposition.set_accounts(accounts)
        names = {a.account for a in accounts}
        self._readings = {a: r for a, r in self._readings.items() if a in names}
        self._statuses = {a: s for a, s in self._statuses.items() if a in names}
        for account in self._readings:
            self._render_series(account)
        for status in self._statuses.values():
            self.exposition.set_status(status)

    async def load(self, store: LatestSource, accounts: set[str]) -> None:
        """Merge the store's latest readings and statuses of `accounts` in (newest wins: a
        poll that finished meanwhile is not undone)."""
        readings = await store.latest(accounts=accounts)
        statuses = await store.account_statuses()
        touched: set[str] = set()
        for r in readings:
            if self._keep(r):
                touched.add(r.account)
        for account in touched:
            self._render_series(account)
        for s in statuses:
            if s.account not in accounts:
                continue
            old = self._statuses.get(s.account)
            if old is None or s.last_run_at > old.last_run_at:
                self._statuses[s.account] = s
                self.exposition.set_status(s)

    def polled(self, result: PollResult) -> None:
        """Take in a finished poll (nothing changes when the store refused it)."""
        run, status = result.run, result.status
        if run is None or status is None:
            return
        for r in result.readings:
            self._keep(r)
        if result.readings:
            self._render_series(run.account)
        self._statuses[run.account] = status  # as the store's upsert counted it
        self.exposition.set_status(status)
        self._dirty.set()

    def polls_done(self) -> int:
        """Polls of the watched accounts recorded so far (the store's count at start-up on)."""
        return sum(s.runs_total for s in self._statuses.values())

    def forecasts_changed(self, account: str) -> None:
        """Re-render `account`'s series after its forecasts changed."""
        if account in self._readings:
            self._render_series(account)

    async def run(
        self,
        read: Callable[[], Awaitable[DaemonWideFacts]],
        stop: asyncio.Event,
    ) -> None:
        """Re-read the daemon-wide facts after polls (at most once a second) and when idle."""
        while not stop.is_set():
            try:
                self.daemon_wide = await read()
            except StoreError as exc:
                log.warning("/metrics: reading firing alerts and outbox depth: %s", exc)
            self._dirty.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), REFRESH_SECONDS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), IDLE_REFRESH_SECONDS - REFRESH_SECONDS)

    def _keep(self, r: StoredReading) -> bool:
        series = self._readings.setdefault(r.account, {})
        key = _series_key(r)
        old = series.get(key)
        if old is not None and old.ts > r.ts:
            return False  # a series' latest value only moves forward in time, as in the store
        series[key] = r
        return True

    def _render_series(self, account: str) -> None:
        series = self._readings.get(account, {})
        readings: Sequence[StoredReading] = [series[k] for k in sorted(series)]
        forecasts = self._forecasts()
        facts: dict[SeriesKey, ForecastFacts] = {}
        for r in readings:
            key = (account, r.limit, r.resource)
            signal = forecasts.get(key)
            if signal is not None:
                facts[key] = ForecastFacts(
                    signal.forecast_utilization, signal.exhausts_at, signal.span_seconds
                )
        self.exposition.set_series(account, readings, facts)
