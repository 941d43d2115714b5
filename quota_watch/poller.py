"""One poll of one account: call the collector, resolve caps and periods, store atomically."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import BaseModel, SecretStr

from quota_watch.periods import current_period
from quota_watch.registry import CollectorInfo
from quota_watch.sdk import (
    CollectContext,
    Collector,
    CollectorError,
    LimitSpec,
    Period,
    RateLimited,
    RateLimitStatus,
    Reading,
    UnexpectedResponse,
)
from quota_watch.settings import AccountConfig
from quota_watch.store import RunRecord, StoredReading

if TYPE_CHECKING:
    from quota_watch.store import Store

log = logging.getLogger("quota_watch.poller")

#: outcomes after which the account's persistent state is saved (NoData may carry a baseline)
_STATE_KEEPING = frozenset({"success", "no_data"})


@dataclass
class AccountRuntime:
    """An account ready to poll: its config, collector instance and effective limits."""

    config: AccountConfig
    info: CollectorInfo
    collector: Collector
    limits: Mapping[str, LimitSpec]
    secrets: tuple[str, ...]
    state: dict[str, Any] | None = None  # loaded from the store on the first poll, then cached

    @property
    def provider(self) -> str:
        """The provider label (the collector's name)."""
        return self.info.name


@dataclass(frozen=True)
class PollResult:
    """What one poll did."""

    account: str
    outcome: str
    readings: tuple[StoredReading, ...] = ()
    error: str | None = None
    retry_after: float | None = None
    duration: float = 0.0
    rate_limit: RateLimitStatus | None = None


def secret_values(options: BaseModel) -> tuple[str, ...]:
    """Every SecretStr value inside an options model (nested dicts and lists included)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, SecretStr):
            value = node.get_secret_value()
            if value:
                found.append(value)
        elif isinstance(node, BaseModel):
            for name in type(node).model_fields:
                walk(getattr(node, name))
        elif isinstance(node, Mapping):
            for item in node.values():
                walk(item)
        elif isinstance(node, list | tuple | set | frozenset):
            for item in node:
                walk(item)

    walk(options)
    return tuple(sorted(set(found), key=len, reverse=True))


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret value in `text` with '***' (a last line of defence for messages)."""
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


class _OfflineClient:
    """Stands in for the HTTP client where collectors are built but never poll."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("this collector was built offline and cannot make requests")


OFFLINE_CLIENT: Any = _OfflineClient()


def build_runtime(
    config: AccountConfig, info: CollectorInfo, client: httpx.AsyncClient
) -> AccountRuntime:
    """Instantiate the account's collector on the shared client and fix its limits."""
    collector: Collector = info.cls(config.options, client)
    declared = collector.declared_limits()
    limits = dict(info.catalogue.limits) if declared is None else declared
    return AccountRuntime(
        config=config,
        info=info,
        collector=collector,
        limits=limits,
        secrets=secret_values(config.options),
    )


class Poller:
    """Polls accounts and writes each poll's readings, run record and state in one transaction."""

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    async def poll(self, rt: AccountRuntime) -> PollResult:
        """Poll `rt` once; never raises for a collector failure (the outcome says what happened)."""
        account = rt.config.name
        if rt.state is None:
            rt.state = await self.store.load_state(account)
        started = self.clock()
        t0 = time.perf_counter()
        periods = {name: current_period(spec.period, started) for name, spec in rt.limits.items()}
        ctx = CollectContext(account=account, now=started, periods=periods, state=dict(rt.state))
        outcome, error, retry_after = "success", None, None
        stored: list[StoredReading] = []
        try:
            readings = await rt.collector.collect(ctx)
            stored = self._resolve(rt, readings, periods, started)
        except CollectorError as exc:
            outcome, error = exc.outcome, scrub(str(exc) or type(exc).__name__, rt.secrets)
            if isinstance(exc, RateLimited):
                retry_after = exc.retry_after
        except httpx.TimeoutException:
            outcome, error = "unavailable", "request timed out"
        except httpx.HTTPError as exc:
            outcome, error = "unavailable", scrub(f"{type(exc).__name__}: {exc}", rt.secrets)
        except Exception as exc:  # a collector bug must not kill the daemon
            outcome = "error"
            error = scrub(f"{type(exc).__name__}: {exc}", rt.secrets)
            log.error("collector %s crashed polling %s: %s", rt.provider, account, error)
        finished = self.clock()
        duration = time.perf_counter() - t0
        keep_state = outcome in _STATE_KEEPING
        run = RunRecord(
            provider=rt.provider,
            account=account,
            started_at=started,
            finished_at=finished,
            outcome=outcome,
            error=error,
            readings=len(stored),
        )
        await self.store.record_poll(run, stored, ctx.state if keep_state else None)
        if keep_state:
            rt.state = dict(ctx.state)
        if outcome == "success":
            log.debug("polled %s: %d readings in %.3fs", account, len(stored), duration)
        elif outcome == "no_data":
            log.info("polled %s: no data yet (%s)", account, error)
        else:
            log.warning("polling %s failed (%s): %s", account, outcome, error)
        return PollResult(
            account=account,
            outcome=outcome,
            readings=tuple(stored),
            error=error,
            retry_after=retry_after,
            duration=duration,
            rate_limit=ctx.rate_limit,
        )

    def _resolve(
        self,
        rt: AccountRuntime,
        readings: list[Reading],
        periods: Mapping[str, Period],
        now: datetime,
    ) -> list[StoredReading]:
        undeclared = sorted({r.limit for r in readings} - set(rt.limits))
        if undeclared:
            raise UnexpectedResponse(
                f"collector {rt.provider} produced undeclared limits: {', '.join(undeclared)}"
            )
        stored = []
        for reading in readings:
            spec = rt.limits[reading.limit]
            cap, cap_source = _resolve_cap(reading, spec, rt.config.cap_overrides)
            period = periods[reading.limit]
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
                    period_start=reading.period_start or period.start,
                    period_end=period.end,
                    ts=now,
                )
            )
        return stored


def _resolve_cap(
    reading: Reading, spec: LimitSpec, overrides: Mapping[str, float]
) -> tuple[float | None, str]:
    """Precedence: API-reported > account override in config > catalogue."""
    if reading.cap is not None:
        return reading.cap, "api"
    if reading.limit in overrides:
        return overrides[reading.limit], "override"
    if spec.cap is not None:
        return spec.cap, "catalogue"
    return None, "none"
