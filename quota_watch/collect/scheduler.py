"""APScheduler 3.x (AsyncIOScheduler) behind a small interface: one job per account, backoff."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

from apscheduler.job import Job
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from quota_watch.collect.poller import Poller, PollResult
from quota_watch.collect.runtime import AccountRuntime
from quota_watch.config.settings import PollingSettings
from quota_watch.model import Outcome
from quota_watch.store.models import StoreError
from quota_watch.units import format_duration

log = logging.getLogger("quota_watch.scheduler")


def _no_context(name: str) -> AbstractContextManager[object]:
    return contextlib.nullcontext()


_FIRST_POLL_SPREAD = 2.0  # seconds: first polls start at once but not all in the same instant


def _rounded(delay: timedelta) -> timedelta:
    """`delay` to the second, or to the minute from 90 s: "next in 5m", not "next in 299s"."""
    step = 60 if delay >= timedelta(seconds=90) else 1
    return timedelta(seconds=max(1, round(delay.total_seconds() / step) * step))


#: A rate-limit hint beyond this is not a delay but garbage (timedelta tops out near 2.7e6
#: years; anything over a century is read as absent).
_ABSURD_HINT = 100 * 365 * 86400.0

#: How many store write failures in a row turn /readyz red and withhold the heartbeat.
STORE_FAILURES_UNREADY = 3


def clamp_retry_after(value: float | None, maximum: timedelta) -> tuple[float | None, bool]:
    """A provider's rate-limit hint made safe: non-finite, negative or absurd values are read
    as absent, anything longer than `maximum` is cut to it. Also says whether it was changed."""
    if value is None:
        return None, False
    if not math.isfinite(value) or value < 0 or value > _ABSURD_HINT:
        return None, True
    limit = maximum.total_seconds()
    return (limit, True) if value > limit else (value, False)


def backoff_delay(
    failures: int,
    interval: timedelta,
    backoff_max: timedelta,
    retry_after: float | None = None,
    max_retry_after: timedelta = timedelta(hours=24),
) -> timedelta:
    """Delay before the next try after `failures` consecutive failures (>= 1).

    Doubles from min(interval, 30 s), capped at max(backoff_max, interval); a provider's
    Retry-After is a floor, itself clamped to `max_retry_after` (never raises on any float).
    """
    base = min(interval, timedelta(seconds=30))
    cap = max(backoff_max, interval)
    delay = min(base * (1 << min(max(failures, 1) - 1, 30)), cap)
    hint, _ = clamp_retry_after(retry_after, max_retry_after)
    if hint is not None:
        delay = max(delay, timedelta(seconds=hint))
    return delay


class PollScheduler:
    """Runs one interval job per account plus maintenance jobs, on the running event loop."""

    def __init__(
        self,
        poller: Poller,
        settings: PollingSettings,
        on_result: Callable[[AccountRuntime, PollResult], Awaitable[None]] | None = None,
    ) -> None:
        self.poller = poller
        self.settings = settings
        self.on_result = on_result
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.runtimes: dict[str, AccountRuntime] = {}
        self.failures: dict[str, int] = {}
        self.paused: set[str] = set()
        # cycle_accounts() as last computed, and the (runtimes, paused) it was computed for.
        self._cycle_names: frozenset[str] | None = None
        self._cycle_key: tuple[int, frozenset[str]] = (0, frozenset())
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._evaluating: dict[str, asyncio.Lock] = {}
        self._odd_hints: set[str] = set()  # accounts whose absurd rate-limit hint was logged
        self.store_failures = 0  # polls in a row whose write the store refused
        self.store_error: str | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._draining = False
        # Outcomes since the last cycle line: one info line once every active account has polled.
        self._cycle: dict[str, Outcome] = {}
        #: Entered around each poll and its evaluation (a cluster member's lease fence).
        self.account_context: Callable[[str], AbstractContextManager[object]] = _no_context

    def start(self) -> None:
        """Start the scheduler on the current event loop."""
        self.scheduler.start()

    def add_maintenance(
        self, name: str, every: timedelta, job: Callable[[], Awaitable[None]]
    ) -> None:
        """Run `job` every `every` (first run after one period), one instance at a time."""
        self.scheduler.add_job(
            job,
            IntervalTrigger(seconds=every.total_seconds()),
            id=f"maintenance:{name}",
            max_instances=1,
            coalesce=True,
            replace_existing=True,
        )

    def set_accounts(self, runtimes: Mapping[str, AccountRuntime]) -> None:
        """Match the jobs to `runtimes`: add new accounts, drop removed ones, redo changed ones."""
        for name in set(self.runtimes) - set(runtimes):
            self._remove(name)
            log.info("account %s removed", name, extra={"account": name})
        for name, rt in runtimes.items():
            old = self.runtimes.get(name)
            if old is not None and old.config == rt.config:
                # Unchanged: keep its job and backoff; a reload re-tries a paused account
                # (the token may have been renewed at the provider, not in the config).
                if name in self.paused:
                    self.resume(name)
                continue
            if old is not None:
                self._remove(name)
                log.info("account %s changed; rescheduling", name, extra={"account": name})
            if not rt.config.enabled:
                self.runtimes[name] = rt
                self._cycle_names = None
                log.info("account %s is disabled", name, extra={"account": name})
                continue
            self._add(rt)

    def _add(self, rt: AccountRuntime) -> None:
        name = rt.config.name
        self.runtimes[name] = rt
        self._cycle_names = None
        interval = rt.config.interval.total_seconds()
        first = datetime.now(UTC) + timedelta(
            seconds=random.uniform(0, min(_FIRST_POLL_SPREAD, interval))
        )
        self.scheduler.add_job(
            self._poll_job,
            IntervalTrigger(seconds=interval, jitter=interval * self.settings.jitter or None),
            args=(name,),
            id=f"poll:{name}",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(interval)),
            next_run_time=first,
            replace_existing=True,
        )

    def _remove(self, name: str) -> None:
        self.runtimes.pop(name, None)
        self._cycle_names = None
        self.failures.pop(name, None)
        self.paused.discard(name)
        self._odd_hints.discard(name)
        job = self.scheduler.get_job(f"poll:{name}")
        if job is not None:
            job.remove()

    def resume(self, name: str) -> bool:
        """Poll a paused (auth-failed) account now; False when no such account is polled."""
        job = self.scheduler.get_job(f"poll:{name}")
        if job is None:
            return False
        if name in self.paused:
            self.paused.discard(name)
            log.info("account %s: resumed; polling it now", name, extra={"account": name})
        job.modify(next_run_time=datetime.now(UTC))
        return True

    def _semaphore(self, provider: str) -> asyncio.Semaphore:
        if provider not in self._semaphores:
            self._semaphores[provider] = asyncio.Semaphore(
                self.settings.max_concurrency_per_provider
            )
        return self._semaphores[provider]

    def evaluation_lock(self, name: str) -> asyncio.Lock:
        """Held while an account's alerts are evaluated, so a poll's evaluation and the
        clock-driven staleness check of the same account never interleave."""
        return self._evaluating.setdefault(name, asyncio.Lock())

    def store_unhealthy(self) -> str | None:
        """Why the store is failing (it refused the last STORE_FAILURES_UNREADY writes), or None."""
        if self.store_failures >= STORE_FAILURES_UNREADY:
            return f"the store refused the last {self.store_failures} writes: {self.store_error}"
        return None

    async def _poll_job(self, name: str) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._running.add(task)
        try:
            await self.poll_now(name)
        finally:
            self._running.discard(task)

    async def poll_now(self, name: str) -> PollResult | None:
        """Poll one account now (respecting the provider's concurrency cap) and apply backoff."""
        with self.account_context(name):
            return await self._poll_now(name)

    async def _poll_now(self, name: str) -> PollResult | None:
        rt = self.runtimes.get(name)
        if rt is None or self._draining:
            return None
        async with self._semaphore(rt.provider):
            if self._draining:
                return None
            result = await self.poller.poll(rt, self.settings.deadline().total_seconds())
        self._after(rt, result)
        self._count_in_cycle(name, result.outcome)
        if self.on_result is not None and result.store_error is None:
            async with self.evaluation_lock(name):
                try:
                    await self.on_result(rt, result)
                except StoreError as exc:
                    log.error(
                        "evaluating alerts of %s failed: %s", name, exc, extra={"account": name}
                    )
                except Exception:  # alerting must not stop polling; the log says what broke
                    log.exception("evaluating alerts of %s failed", name, extra={"account": name})
        return result

    def cycle_accounts(self) -> frozenset[str]:
        """The accounts a poll cycle waits for: the active ones polled at the fastest cadence.

        With one interval for all (the usual case) that is every active account; an account
        polled far less often (over twice the shortest interval) is counted when it polls but
        does not hold the cycle line back until it does.
        """
        # Computed again only when the accounts or the paused ones changed: after every poll
        # it made a 1,000-account cycle cost O(N^2) (~1 s of CPU per cycle).
        key = (len(self.runtimes), frozenset(self.paused))
        if self._cycle_names is None or key != self._cycle_key:
            self._cycle_names, self._cycle_key = self._cycle_of(), key
        return self._cycle_names

    def _cycle_of(self) -> frozenset[str]:
        active = {
            n: rt.config.interval
            for n, rt in self.runtimes.items()
            if rt.config.enabled and n not in self.paused
        }
        if not active:
            return frozenset()
        fastest = min(active.values())
        return frozenset(n for n, interval in active.items() if interval <= 2 * fastest)

    def _count_in_cycle(self, name: str, outcome: Outcome) -> None:
        """Log "polled N accounts, F failed, next in D" once every cycle account has polled."""
        self._cycle[name] = outcome
        cycle = self.cycle_accounts()
        if len(self._cycle) < len(cycle) or not cycle.issubset(self._cycle.keys()):
            return
        polled = {n: o for n, o in self._cycle.items() if n in self.runtimes}
        self._cycle = {}
        failed = sorted(n for n, o in polled.items() if o.is_failure)
        next_in = self.next_poll_in()
        log.info(
            "polled %d accounts, %d failed, next in %s",
            len(polled),
            len(failed),
            "-" if next_in is None else format_duration(_rounded(next_in)),
            extra={
                "polled": len(polled),
                "failed": len(failed),
                "failed_accounts": ",".join(failed),
                "next_in_seconds": None if next_in is None else round(next_in.total_seconds(), 1),
            },
        )

    def next_poll_in(self) -> timedelta | None:
        """Time until the earliest scheduled poll (None when no poll is scheduled)."""
        now = datetime.now(UTC)
        times: list[datetime] = [
            job.next_run_time
            for job in self.scheduler.get_jobs()
            if job.id.startswith("poll:") and job.next_run_time is not None
        ]
        if not times:
            return None
        return max(min(times) - now, timedelta(seconds=1))

    def _after(self, rt: AccountRuntime, result: PollResult) -> None:
        name = rt.config.name
        job = self.scheduler.get_job(f"poll:{name}")
        if result.store_error is not None:
            # Nothing was kept: back off like a failed poll instead of hammering the provider
            # for results that are thrown away.
            self.store_failures += 1
            self.store_error = result.store_error
            log.error("storing the poll of %s failed: %s", name, result.store_error)
            self._back_off(rt, job, None)
            return
        self.store_failures, self.store_error = 0, None
        if result.outcome == Outcome.AUTH:
            self.paused.add(name)
            retry = self.settings.auth_retry
            if job is not None and not self._draining:
                job.modify(next_run_time=datetime.now(UTC) + retry)
            log.error(
                "account %s: credentials rejected; polling paused, next try in %s (or on "
                "reload, or `quota-watch account resume %s`)",
                name,
                retry,
                name,
                extra={"provider": rt.provider, "account": name},
            )
            return
        if name in self.paused:
            self.paused.discard(name)
            log.info(
                "account %s: credentials accepted again; polling resumed",
                name,
                extra={"provider": rt.provider, "account": name},
            )
        if not result.outcome.is_retried:
            self.failures.pop(name, None)
            return
        self._back_off(rt, job, result.retry_after)

    def _back_off(self, rt: AccountRuntime, job: Job | None, retry_after: float | None) -> None:
        name = rt.config.name
        failures = self.failures.get(name, 0) + 1
        self.failures[name] = failures
        maximum = self.settings.max_retry_after
        hint, changed = clamp_retry_after(retry_after, maximum)
        if changed and name not in self._odd_hints:
            self._odd_hints.add(name)
            reading = "ignored" if hint is None else f"cut to {maximum}"
            log.warning(
                "account %s: the provider's rate-limit hint %r is %s (max_retry_after)",
                name,
                retry_after,
                reading,
            )
        delay = backoff_delay(
            failures, rt.config.interval, self.settings.backoff_max, hint, maximum
        )
        if job is not None and not self._draining:
            job.modify(next_run_time=datetime.now(UTC) + delay)
        log.info(
            "account %s: failure %d, next try in %s",
            name,
            failures,
            delay,
            extra={
                "provider": rt.provider,
                "account": name,
                "failures": failures,
                "retry_in_seconds": delay.total_seconds(),
            },
        )

    async def drain(self, grace: float) -> None:
        """Stop starting polls, wait up to `grace` seconds for running ones, then stop."""
        self._draining = True
        self.scheduler.pause()
        running = [t for t in self._running if t is not asyncio.current_task()]
        if running:
            log.info("waiting for %d running polls", len(running))
            _, pending = await asyncio.wait(running, timeout=grace)
            for task in pending:
                task.cancel()
        self.scheduler.shutdown(wait=False)
