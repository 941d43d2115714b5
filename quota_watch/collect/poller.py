"""One poll of one account: call the collector, resolve caps and periods, store atomically."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx

from quota_watch.collect.periods import current_period, stated_period
from quota_watch.collect.runtime import AccountRuntime, effective_cap, scrub
from quota_watch.model import AccountStatus, Outcome
from quota_watch.sdk import (
    CollectContext,
    CollectorError,
    Period,
    PeriodKind,
    PeriodSpec,
    RateLimited,
    RateLimitStatus,
    Reading,
    UnexpectedResponse,
)
from quota_watch.store.models import RunRecord, StoredReading, StoreError

if TYPE_CHECKING:
    from quota_watch.store.facade import Store

log = logging.getLogger("quota_watch.poller")

MAX_READINGS_PER_POLL = 10_000
"""More readings than this from one poll is a runaway payload (or collector), not usage: each
becomes a stored series and /metrics lines, on a 1 GB VM."""


@dataclass(frozen=True)
class PollResult:
    """What one poll did."""

    account: str
    outcome: Outcome
    readings: tuple[StoredReading, ...] = ()
    error: str | None = None
    retry_after: float | None = None
    duration: float = 0.0
    rate_limit: RateLimitStatus | None = None
    store_error: str | None = None  # the store refused this poll's write (nothing was kept)
    run: RunRecord | None = None  # the run record as stored (None when nothing was kept)
    status: AccountStatus | None = None  # the account's poll health as this poll's write left it


class Poller:
    """Polls accounts and writes each poll's readings, run record and state in one transaction."""

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    async def poll(
        self,
        rt: AccountRuntime,
        deadline: float | None = None,
        *,
        amend_state: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> PollResult:
        """Poll `rt` once, giving the collector at most `deadline` seconds in all; never raises
        for a collector or store failure (the outcome and store_error say what happened).

        `amend_state` changes the account's state just before the collector sees it
        (`quota-watch set` adds a value set by hand this way)."""
        account = rt.config.name
        # A settable collector's state is also written by `quota-watch set` in another process.
        if rt.state is None or getattr(rt.collector, "settable", False):
            rt.state = await self.store.load_state(account)
        if amend_state is not None:
            rt.state = amend_state(dict(rt.state))
        started = self.clock()
        t0 = time.perf_counter()
        periods = {name: current_period(spec.period, started) for name, spec in rt.limits.items()}
        ctx = CollectContext(account=account, now=started, periods=periods, state=dict(rt.state))
        outcome, error, retry_after = Outcome.SUCCESS, None, None
        stored: list[StoredReading] = []
        limit = asyncio.timeout(deadline)
        try:
            # httpx's timeout is per read: a body dripping a byte at a time never trips it, so
            # the whole poll has a deadline too (it also frees the provider's concurrency slot).
            async with limit:
                readings = await rt.collector.collect(ctx)
            stored = self._resolve(rt, readings, periods, started)
        except Exception as exc:  # a collector bug must not kill the daemon
            outcome, error, retry_after = _failure(exc, rt, deadline, limit.expired())
        finished = self.clock()
        duration = time.perf_counter() - t0
        keep_state = outcome.keeps_state
        run = RunRecord(
            provider=rt.provider,
            account=account,
            started_at=started,
            finished_at=finished,
            outcome=outcome,
            error=error,
            readings=len(stored),
        )
        try:
            status = await self.store.record_poll(run, stored, ctx.state if keep_state else None)
        except StoreError as exc:
            # Logged by the scheduler (once per interval, with a count); nothing was kept.
            return PollResult(
                account=account,
                outcome=outcome,
                error=error,
                retry_after=retry_after,
                duration=duration,
                rate_limit=ctx.rate_limit,
                store_error=scrub(str(exc), rt.secrets),
            )
        if keep_state:
            rt.state = dict(ctx.state)
        _log_outcome(rt, outcome, error, len(stored), duration)
        return PollResult(
            account=account,
            outcome=outcome,
            readings=tuple(stored),
            error=error,
            retry_after=retry_after,
            duration=duration,
            rate_limit=ctx.rate_limit,
            run=run,
            status=status,
        )

    def _resolve(
        self,
        rt: AccountRuntime,
        readings: list[Reading],
        periods: Mapping[str, Period],
        now: datetime,
    ) -> list[StoredReading]:
        if len(readings) > MAX_READINGS_PER_POLL:
            raise UnexpectedResponse(
                f"collector {rt.provider} produced {len(readings)} readings in one poll, "
                f"more than {MAX_READINGS_PER_POLL}"
            )
        undeclared = sorted({r.limit for r in readings} - set(rt.limits))
        if undeclared:
            raise UnexpectedResponse(
                f"collector {rt.provider} produced undeclared limits: {', '.join(undeclared)}"
            )
        stored = []
        for reading in readings:
            spec = rt.limits[reading.limit]
            cap, cap_source = effective_cap(
                reading.cap, reading.limit, spec, rt.config.cap_overrides
            )
            period = stated_period(
                spec.period,
                periods[reading.limit],
                reading.period_start,
                reading.period_end,
                reading.period_zone,
            )
            stored.append(
                StoredReading(
                    provider=rt.provider,
                    account=rt.config.name,
                    limit=reading.limit,
                    resource=reading.resource,
                    unit=spec.unit.value,
                    measure=spec.measure.value,
                    value=reading.value,
                    cap=cap,
                    cap_source=cap_source,
                    period_start=period.start,
                    period_end=period.end,
                    ts=now,
                    period_zone=reading.period_zone or _zone_of(spec.period),
                    forecast=reading.forecast,
                )
            )
        return stored


def _zone_of(spec: PeriodSpec) -> str | None:
    """The zone of a calendar period's boundaries; None for rolling and unbounded periods."""
    return spec.tz if spec.kind in _CALENDAR else None


_CALENDAR = frozenset({PeriodKind.DAILY, PeriodKind.CALENDAR_MONTH, PeriodKind.BILLING_CYCLE})


def _failure(
    exc: Exception, rt: AccountRuntime, deadline: float | None, expired: bool
) -> tuple[Outcome, str, float | None]:
    """The outcome, the scrubbed error and the Retry-After of a poll that raised `exc`."""
    if isinstance(exc, TimeoutError):
        return (
            Outcome.UNAVAILABLE,
            f"poll exceeded its deadline of {deadline:g}s" if expired else "timed out",
            None,
        )
    if isinstance(exc, CollectorError):
        retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
        return Outcome(exc.outcome), scrub(str(exc) or type(exc).__name__, rt.secrets), retry_after
    if isinstance(exc, httpx.TimeoutException):
        return Outcome.UNAVAILABLE, "request timed out", None
    if isinstance(exc, httpx.HTTPError):
        return Outcome.UNAVAILABLE, scrub(f"{type(exc).__name__}: {exc}", rt.secrets), None
    error = scrub(f"{type(exc).__name__}: {exc}", rt.secrets)
    log.error(
        "collector %s crashed polling %s: %s",
        rt.provider,
        rt.config.name,
        error,
        extra={"provider": rt.provider, "account": rt.config.name},
    )
    return Outcome.ERROR, error, None


def _log_outcome(
    rt: AccountRuntime, outcome: Outcome, error: str | None, readings: int, duration: float
) -> None:
    """One log line per poll: debug when it succeeded, info for no data yet, else a warning."""
    account = rt.config.name
    fields = {"provider": rt.provider, "account": account, "outcome": outcome.value}
    if outcome is Outcome.SUCCESS:
        log.debug(
            "polled %s: %d readings in %.3fs",
            account,
            readings,
            duration,
            extra={**fields, "readings": readings, "duration_seconds": round(duration, 3)},
        )
    elif outcome is Outcome.NO_DATA:
        log.info("polled %s: no data yet (%s)", account, error, extra=fields)
    else:
        log.warning(
            "polling %s failed (%s): %s", account, outcome, error, extra={**fields, "error": error}
        )
