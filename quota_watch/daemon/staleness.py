"""Staleness from the clock: re-evaluate accounts whose last success is getting old, whether or
not a poll of theirs ever ends (a hung poll would otherwise keep QuotaDataStale silent)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from quota_watch.collect.scheduler import PollScheduler
from quota_watch.daemon.alerting import Alerting
from quota_watch.store.models import StoreError

if TYPE_CHECKING:
    from quota_watch.store.facade import Store

log = logging.getLogger("quota_watch.staleness")

#: The check runs every shortest poll interval, but at least this often and at most this often.
CHECK_EVERY_MAX = timedelta(seconds=60)
CHECK_EVERY_MIN = timedelta(seconds=1)


def check_every(intervals: list[timedelta]) -> timedelta:
    """How often to look: the shortest poll interval, within [1 s, 60 s]."""
    shortest = min(intervals, default=CHECK_EVERY_MAX)
    return max(CHECK_EVERY_MIN, min(shortest, CHECK_EVERY_MAX))


class StalenessWatch:
    """Every check, re-evaluates the health rules of each polled account whose last successful
    poll is older than one interval (the engine decides whether that is stale yet)."""

    def __init__(
        self,
        store: Store,
        scheduler: PollScheduler,
        alerting: Alerting,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.scheduler = scheduler
        self.alerting = alerting
        self.clock = clock

    def due_accounts(self, last_success: dict[str, datetime | None]) -> list[str]:
        """Polled (enabled, not paused) accounts whose last success is over an interval old;
        ones that have run but never succeeded are included too."""
        now = self.clock()
        due = []
        for name, rt in sorted(self.scheduler.runtimes.items()):
            if not rt.config.enabled or name in self.scheduler.paused:
                continue
            if name not in last_success:
                continue  # never polled: nothing can be stale yet
            success = last_success[name]
            if success is None or now - success > rt.config.interval:
                due.append(name)
        return due

    async def check(self) -> int:
        """One pass; returns how many accounts were evaluated."""
        statuses = await self.store.account_statuses()
        last = {s.account: s.last_success_at for s in statuses}
        evaluated = 0
        for name in self.due_accounts(last):
            rt = self.scheduler.runtimes.get(name)
            if rt is None:
                continue
            with self.scheduler.account_context(name):
                async with self.scheduler.evaluation_lock(name):
                    await self.alerting.evaluate_health(rt)
            evaluated += 1
        return evaluated

    async def run(self, stop: asyncio.Event) -> None:
        """Check every `check_every` of the current accounts until `stop`; never raises."""
        while not stop.is_set():
            try:
                await self.check()
            except StoreError as exc:
                log.error("staleness check: %s", exc)
            except Exception:  # the watch must never take the daemon down
                log.exception("staleness check failed")
            runtimes = self.scheduler.runtimes.values()
            every = check_every([rt.config.interval for rt in runtimes if rt.config.enabled])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every.total_seconds())
