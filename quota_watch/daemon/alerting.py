"""Glue between a poll and the alert lifecycle: evaluate the rules, queue and send messages."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from quota_watch.collect.poller import PollResult
from quota_watch.collect.runtime import AccountRuntime
from quota_watch.config.settings import Config
from quota_watch.engine.evaluation import evaluate_account
from quota_watch.engine.health import AccountHealth
from quota_watch.engine.pools import PoolPlan
from quota_watch.engine.removal import retire_account
from quota_watch.engine.rulepack import RuleOverride, RulePack, load_rule_pack
from quota_watch.engine.scope import RulesCache
from quota_watch.engine.signals import Signal
from quota_watch.model import AccountStatus, AlertState, Outcome, SeriesKey
from quota_watch.notify.config import NotifierSettings
from quota_watch.notify.outbox import OutboxWorker, enqueue
from quota_watch.sdk import LimitSpec
from quota_watch.status.position import forecast_record
from quota_watch.status.window import SeriesWindows
from quota_watch.store.fence import current_fence
from quota_watch.store.models import StoredForecast, StoreError

if TYPE_CHECKING:
    from quota_watch.store.facade import Store

log = logging.getLogger("quota_watch.alerting")


_ALERT_TIMES = tuple(f.name for f in dataclasses.fields(AlertState) if "datetime" in str(f.type))

FORECAST_FLUSH = timedelta(seconds=30)
"""How long a forecast may wait to be stored with the next write; the report fits the series
whose stored forecast is older than their newest reading itself."""


def display_unit_of(limits: Mapping[str, LimitSpec], alert: AlertState) -> str | None:
    """The display unit (limits.toml) of the alert's limit among `limits`, if it has one."""
    spec = limits.get(alert.limit) if alert.limit is not None else None
    return spec.display_unit if spec is not None else None


class OpenAlerts:
    """Each account's open (not resolved) alert states, as this daemon last read or wrote them.

    Only the daemon polling an account writes its alert states (the rules after a poll, the
    retirement of a removed account); no CLI command does. So once read, an account's states
    are kept up to date from what is written, and a poll reads nothing back. In a cluster
    another member may have written them while it held the account's lease: `Alerting._check_epoch`
    forgets an account whose lease epoch changed, so its states are read again.
    """

    def __init__(self) -> None:
        self._accounts: dict[str, dict[str, AlertState]] = {}

    def get(self, account: str) -> list[AlertState] | None:
        """The account's open alerts by fingerprint (as the store lists them), or None when
        they are not known."""
        alerts = self._accounts.get(account)
        if alerts is None:
            return None
        return [alerts[fp] for fp in sorted(alerts)]

    def put(self, account: str, alerts: Iterable[AlertState]) -> None:
        """The account's open alerts as just read from the store."""
        self._accounts[account] = {a.fingerprint: a for a in alerts}

    def written(self, account: str, states: Iterable[AlertState], deletions: Iterable[str]) -> None:
        """Take in the states upserted and the fingerprints deleted by a committed write."""
        alerts = self._accounts.get(account)
        if alerts is None:
            return
        for fingerprint in deletions:
            alerts.pop(fingerprint, None)
        for state in states:
            if state.status == "resolved":
                alerts.pop(state.fingerprint, None)
            else:
                alerts[state.fingerprint] = _as_stored(state)

    def forget(self, accounts: Iterable[str]) -> None:
        """Drop what is known of `accounts`: read again at their next evaluation."""
        for account in accounts:
            self._accounts.pop(account, None)

    def keep_only(self, accounts: Collection[str]) -> None:
        """Drop what is known of the accounts not in `accounts`."""
        self.forget([a for a in self._accounts if a not in accounts])


def _as_stored(state: AlertState) -> AlertState:
    """`state` as the store gives it back: every time in UTC."""
    moments = {
        name: moment.astimezone(UTC)
        for name in _ALERT_TIMES
        if (moment := getattr(state, name)) is not None and moment.tzinfo is not UTC
    }
    return dataclasses.replace(state, **moments) if moments else state


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
        self.rules = RulesCache(self.pack, self.overrides)  # each series' resolved rules
        self.notifiers: Sequence[NotifierSettings] = config.settings.notifiers
        alerts = config.settings.alerts
        self.worker = OutboxWorker(
            store,
            self.notifiers,
            retry_first=alerts.retry_initial,
            retry_max=alerts.retry_max,
        )
        self.forecasts: dict[SeriesKey, Signal] = {}
        self._unsaved: dict[SeriesKey, StoredForecast] = {}  # forecasts not in the store yet
        self._unsaved_since: datetime | None = None
        self.pools: dict[str, PoolPlan] = {}  # the latest plan of every pool, by group
        self.windows = SeriesWindows()  # each series' samples over the lookback, in memory
        self.open_alerts = OpenAlerts()
        self._epochs: dict[str, int | None] = {}  # the account lease epoch each was read under
        self._runs: dict[str, int] = {}  # each account's runs_total after its last poll here
        self.wake = asyncio.Event()
        self._lock = asyncio.Lock()

    def reconfigure(self, config: Config) -> None:
        """Take a reloaded config's rules and notifiers."""
        self.pack = load_rule_pack(config.settings.alerts.rule_pack)
        self.overrides = config.settings.rules
        self.rules = RulesCache(self.pack, self.overrides)
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
        self._check_epoch(account)
        self._check_other_writers(account, result)
        views = []
        if result is not None and result.outcome == Outcome.SUCCESS:
            views = await self.windows.views(self.store, rt, result.readings, now, self._lookback())
        status, prior = await self._status_and_alerts(account, result)
        health = AccountHealth.from_status(status, rt.config.interval)
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
            series_complete=result is not None and result.outcome == Outcome.SUCCESS,
            cache=self.rules,
        )
        for (limit, resource), signal in evaluation.forecasts.items():
            self.forecasts[(account, limit, resource)] = signal
        for error in evaluation.errors:
            log.warning("rules: %s", error, extra={"provider": rt.provider, "account": account})
        for (limit, resource), signal in evaluation.forecasts.items():
            record = forecast_record(account, limit, resource, signal, now)
            if record is not None:
                self._unsaved[(account, limit, resource)] = record
        if self._unsaved and self._unsaved_since is None:
            self._unsaved_since = now
        # The forecasts ride along when this poll writes alert states anyway, else at most
        # every FORECAST_FLUSH: a poll of a quiet account then writes nothing extra.
        writes = bool(evaluation.states or evaluation.deletions or evaluation.transitions)
        due = self._unsaved_since is not None and now - self._unsaved_since >= FORECAST_FLUSH
        batch = self._take_unsaved() if writes or due else []
        try:
            messages = await enqueue(
                self.store,
                evaluation.states,
                evaluation.transitions,
                self.notifiers,
                now,
                delete=evaluation.deletions,
                forecasts=batch,
                display_unit=partial(display_unit_of, rt.limits),
                horizon=self.pack.forecast.horizon,
            )
        except BaseException:
            self._keep_unsaved(batch, now)
            self.open_alerts.forget([account])  # written or not: read them again next time
            raise
        self.open_alerts.written(account, evaluation.states, evaluation.deletions)
        for transition in evaluation.transitions:
            state = transition.state
            log.info(
                "alert %s %s: %s/%s %s",
                transition.kind,
                state.alertname,
                state.provider,
                state.account,
                state.limit or "",
                extra={
                    "alert": state.alertname,
                    "transition": transition.kind,
                    "severity": state.severity,
                    "provider": state.provider,
                    "account": state.account,
                    "limit": state.limit,
                },
            )
        if messages:
            self.wake.set()

    def _check_epoch(self, account: str) -> None:
        """Note the epoch of the account lease this evaluation runs under (None: not a
        cluster); what is kept in memory of the account is dropped when it changed."""
        fence = current_fence()
        epoch = None if fence is None else fence.epoch
        if account in self._epochs and self._epochs[account] != epoch:
            # The lease moved meanwhile: another member may have written samples and alerts.
            self.windows.forget([account])
            self.open_alerts.forget([account])
        self._epochs[account] = epoch

    def _check_other_writers(self, account: str, result: PollResult | None) -> None:
        """Forget the account's window when another process recorded polls of it since this
        daemon's last one (`quota-watch set` or `collect`): their samples are not in it. The
        store counts every recorded poll (runs_total, in the poll's own transaction)."""
        status = None if result is None else result.status
        if status is None:
            return
        seen = self._runs.get(account)
        if seen is not None and status.runs_total != seen + 1:
            self.windows.forget([account])
        self._runs[account] = status.runs_total

    async def _status_and_alerts(
        self, account: str, result: PollResult | None
    ) -> tuple[AccountStatus | None, list[AlertState]]:
        """The account's poll health and open alerts: from the poll's own write and memory;
        from the store when there is no poll (health re-evaluation) or nothing is known."""
        status = None if result is None else result.status
        if status is None:
            status, prior = await self.store.status_and_alerts(account)
            self.open_alerts.put(account, prior)
            return status, prior
        known = self.open_alerts.get(account)
        if known is None:
            known = await self.store.load_alerts(account=account)
            self.open_alerts.put(account, known)
        return status, known

    async def evaluate_pool(self, group: str, members: Mapping[str, AccountRuntime]) -> None:
        """Plan the pool `group` (its `members`' latest figures) and step its shard alert."""
        from quota_watch.engine.shard_alert import pool_account, step_shard
        from quota_watch.status.plan import build_plan
        from quota_watch.status.position import load_positions

        now = self.clock()
        positions = await load_positions(self.store, members, self.pack, self.overrides, now)
        pools = build_plan(positions, members, self.pack, now).pools
        if not pools:
            return
        pool = pools[0]
        self.pools[group] = pool
        prior = await self.store.load_alerts(account=pool_account(group), include_resolved=True)
        states, transitions = step_shard(prior, pool, enabled=self.pack.shard.enabled, now=now)
        if not states:
            return
        limits = {k: v for rt in members.values() for k, v in rt.limits.items()}
        messages = await enqueue(
            self.store,
            states,
            transitions,
            self.notifiers,
            now,
            display_unit=partial(display_unit_of, limits),
        )
        for transition in transitions:
            log.info(
                "alert %s %s: pool %s %s",
                transition.kind,
                transition.state.alertname,
                group,
                transition.state.limit or "",
                extra={
                    "alert": transition.state.alertname,
                    "transition": transition.kind,
                    "severity": transition.state.severity,
                    "group": group,
                    "limit": transition.state.limit,
                },
            )
        if messages:
            self.wake.set()

    def _take_unsaved(self) -> list[StoredForecast]:
        # Taken before the write awaits: concurrent polls must not write the same batch.
        batch = list(self._unsaved.values())
        self._unsaved.clear()
        self._unsaved_since = None
        return batch

    def _keep_unsaved(self, batch: Sequence[StoredForecast], now: datetime) -> None:
        for record in batch:  # not written: back in the queue, unless a newer one came
            self._unsaved.setdefault((record.account, record.limit, record.resource), record)
        if self._unsaved and self._unsaved_since is None:
            self._unsaved_since = now

    async def flush_forecasts(self) -> None:
        """Store the forecasts not written yet (at shutdown: the report then finds every
        series' latest forecast instead of fitting the ones polled last)."""
        batch = self._take_unsaved()
        if not batch:
            return
        try:
            await self.store.save_alerts([], [], forecasts=batch)
        except BaseException:
            self._keep_unsaved(batch, self.clock())
            raise

    async def retire_unwatched(self, watched: set[str]) -> None:
        """At start: resolve the alerts of accounts removed while the daemon was down."""
        stored = {a.account for a in await self.store.load_alerts()}
        await self.retire(stored - watched)

    async def retire(self, accounts: Iterable[str]) -> None:
        """Resolve the alerts of accounts no longer polled (removed or disabled on reload)."""
        now = self.clock()
        for account in sorted(accounts):
            self.open_alerts.forget([account])  # resolved here: read again if it comes back
            evaluation = retire_account(await self.store.load_alerts(account=account), now)
            if not (evaluation.states or evaluation.deletions):
                continue
            messages = await enqueue(
                self.store,
                evaluation.states,
                evaluation.transitions,
                self.notifiers,
                now,
                delete=evaluation.deletions,
            )
            log.info(
                "account %s no longer watched: %d alerts resolved",
                account,
                len(evaluation.transitions),
            )
            if messages:
                self.wake.set()

    def forget(self, accounts: set[str], groups: set[str] | None = None) -> None:
        """Drop cached forecasts of accounts (and plans of pools) no longer configured."""
        self.forecasts = {k: v for k, v in self.forecasts.items() if k[0] in accounts}
        self._unsaved = {k: v for k, v in self._unsaved.items() if k[0] in accounts}
        self.windows.keep_only(accounts)
        self.open_alerts.keep_only(accounts)
        self.rules.keep_only(accounts)
        self._epochs = {a: e for a, e in self._epochs.items() if a in accounts}
        self._runs = {a: n for a, n in self._runs.items() if a in accounts}
        if groups is not None:
            self.pools = {g: p for g, p in self.pools.items() if g in groups}

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
