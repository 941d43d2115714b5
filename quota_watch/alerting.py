"""Glue between a poll and the alert lifecycle: evaluate the rules, queue and send messages."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from quota_watch.engine.health import AccountHealth
from quota_watch.engine.rulepack import RuleOverride, RulePack, load_rule_pack
from quota_watch.engine.signals import SeriesView, Signal
from quota_watch.engine.state import evaluate_account
from quota_watch.notify.config import NotifierSettings
from quota_watch.notify.outbox import OutboxWorker, enqueue
from quota_watch.poller import AccountRuntime, PollResult
from quota_watch.sdk import Measure, Period
from quota_watch.settings import Config
from quota_watch.store import AlertState, LatestReading, Point, Store, StoredReading, StoreError

log = logging.getLogger("quota_watch.alerting")

SeriesKey = tuple[str, str, str | None]  # account, limit, resource


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


class Alerting:
    """Evaluates an account's rules right after its poll and delivers the outbox."""

    def __init__(
        self,
        store: Store,
        config: Config,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.clock = clock
        self.pack: RulePack = load_rule_pack(config.settings.alerts.rule_pack)
        self.overrides: Sequence[RuleOverride] = config.settings.rules
        self.notifiers: Sequence[NotifierSettings] = config.settings.notifiers
        alerts = config.settings.alerts
        self.worker = OutboxWorker(
            store,
            self.notifiers,
            retry_first=alerts.retry_initial,
            retry_max=alerts.retry_max,
        )
        self.forecasts: dict[SeriesKey, Signal] = {}
        self.wake = asyncio.Event()
        self._lock = asyncio.Lock()

    def reconfigure(self, config: Config) -> None:
        """Take a reloaded config's rules and notifiers."""
        self.pack = load_rule_pack(config.settings.alerts.rule_pack)
        self.overrides = config.settings.rules
        self.notifiers = config.settings.notifiers
        self.worker.update_notifiers(self.notifiers)

    def _lookback(self) -> timedelta:
        longest = self.pack.forecast.lookback
        for override in self.overrides:
            if override.forecast_lookback is not None:
                longest = max(longest, override.forecast_lookback)
        return longest

    async def evaluate_health(self, rt: AccountRuntime) -> None:
        """Re-evaluate an account that is not being polled (paused after an auth failure), so
        its auth and stale alerts keep their reminders."""
        await self.after_poll(rt, None)

    async def after_poll(self, rt: AccountRuntime, result: PollResult | None) -> None:
        """Evaluate `rt`'s rules on the poll just stored and queue what must be said."""
        now = self.clock()
        account = rt.config.name
        views = []
        if result is not None and result.outcome == "success":
            lookback = self._lookback()
            for reading in result.readings:
                points = await self.store.samples(
                    account,
                    reading.limit,
                    reading.resource,
                    fetch_since(reading, now, lookback),
                    now + timedelta(seconds=1),
                )
                views.append(series_view(rt, reading, points, now))
        statuses = await self.store.account_statuses(account=account)
        health = AccountHealth.from_status(statuses[0] if statuses else None, rt.config.interval)
        prior = await self.store.load_alerts(account=account)
        evaluation = evaluate_account(
            provider=rt.provider,
            account=account,
            group=rt.config.group,
            series=views,
            health=health,
            prior=prior,
            pack=self.pack,
            overrides=self.overrides,
            now=now,
            series_complete=result is not None and result.outcome == "success",
        )
        for (limit, resource), signal in evaluation.forecasts.items():
            self.forecasts[(account, limit, resource)] = signal
        for error in evaluation.errors:
            log.warning("rules: %s", error)
        messages = await enqueue(
            self.store,
            evaluation.states,
            evaluation.transitions,
            self.notifiers,
            now,
            delete=evaluation.deletions,
        )
        for transition in evaluation.transitions:
            state = transition.state
            log.info(
                "alert %s %s: %s/%s %s",
                transition.kind,
                state.alertname,
                state.provider,
                state.account,
                state.limit or "",
            )
        if messages:
            self.wake.set()

    def forget(self, accounts: set[str]) -> None:
        """Drop cached forecasts of accounts no longer configured."""
        self.forecasts = {k: v for k, v in self.forecasts.items() if k[0] in accounts}

    async def deliver_once(self) -> None:
        """Send what is due now (one worker pass at a time)."""
        async with self._lock:
            try:
                await self.worker.run_once(self.clock())
            except StoreError as exc:
                log.error("outbox: %s", exc)

    async def run_outbox(self, every: timedelta, stop: asyncio.Event) -> None:
        """Deliver due messages every `every`, and at once after a poll queued some."""
        while not stop.is_set():
            await self.deliver_once()
            self.wake.clear()
            wake = asyncio.ensure_future(self.wake.wait())
            halt = asyncio.ensure_future(stop.wait())
            await asyncio.wait(
                {wake, halt}, timeout=every.total_seconds(), return_when=asyncio.FIRST_COMPLETED
            )
            wake.cancel()
            halt.cancel()

    async def firing(self) -> list[AlertState]:
        """Alerts currently firing (pending and resolved ones excluded)."""
        return [a for a in await self.store.load_alerts() if a.status == "firing"]
