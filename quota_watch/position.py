"""Where every monitored series stands now: latest reading, rules' verdict, forecast, staleness."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from quota_watch.store import LatestReading, Store

if TYPE_CHECKING:
    from quota_watch.engine.rulepack import RuleOverride, RulePack
    from quota_watch.engine.signals import Signal
    from quota_watch.poller import AccountRuntime

__all__ = ["STATUS_ORDER", "SeriesPosition", "Status", "load_positions", "worst_severity"]

Status = Literal["ok", "warning", "critical", "stale", "unknown"]
STATUS_ORDER: dict[str, int] = {"critical": 0, "warning": 1, "stale": 2, "unknown": 3, "ok": 4}
"""Riskiest first."""

_RANK = {"critical": 2, "warning": 1}


def worst_severity(a: str | None, b: str | None) -> str | None:
    """The more severe of two alert severities (critical > warning > anything else)."""
    return a if _RANK.get(a or "", 0) >= _RANK.get(b or "", 0) and a else b


@dataclass(frozen=True, slots=True)
class SeriesPosition:
    """One series now: its newest reading, the account's pool, the rules' verdict."""

    reading: LatestReading
    group: str | None
    severity: str | None  # threshold now or a firing threshold/forecast alert
    stale: bool
    forecast: Signal | None

    @property
    def utilization(self) -> float | None:
        """value / cap, or None without a positive cap."""
        cap = self.reading.cap
        return self.reading.value / cap if cap else None


async def load_positions(
    store: Store,
    runtimes: Mapping[str, AccountRuntime],
    pack: RulePack,
    overrides: Sequence[RuleOverride],
    now: datetime,
) -> list[SeriesPosition]:
    """The position of every stored series of the accounts in `runtimes`, in store order.

    Reads the latest readings, account health, firing alerts and the samples the forecasts
    need (one query for all series), then runs the threshold and forecast rules as the daemon
    does after a poll.
    """
    from quota_watch.alerting import fetch_since, series_view
    from quota_watch.engine.forecast import forecast_signal
    from quota_watch.engine.state import rules_for_series
    from quota_watch.engine.threshold import threshold_signal

    # A limit the collector no longer declares (a catalogue change) has no spec to evaluate.
    readings = [
        r
        for r in await store.latest(accounts=set(runtimes))
        if r.limit in runtimes[r.account].limits
    ]
    statuses = {s.account: s for s in await store.account_statuses()}
    firing: dict[tuple[str, str | None, str | None], str | None] = {}
    for alert in await store.load_alerts():
        if alert.status == "firing" and alert.kind in ("threshold", "forecast"):
            key = (alert.account, alert.limit, alert.resource)
            firing[key] = worst_severity(firing.get(key), alert.severity)
    lookback = max(
        [pack.forecast.lookback, *(o.forecast_lookback for o in overrides if o.forecast_lookback)]
    )
    samples = await store.samples_of_accounts(
        {r.account for r in readings}, now - lookback, now + timedelta(seconds=1)
    )
    positions = []
    for reading in readings:
        rt = runtimes[reading.account]
        status = statuses.get(reading.account)
        success = status.last_success_at if status and status.last_success_at else reading.ts
        stale = now - success > rt.config.interval * pack.stale.after_runs
        since = fetch_since(reading, now, lookback)
        points = [
            p
            for p in samples.get((reading.account, reading.limit, reading.resource), [])
            if p.ts >= since
        ]
        view = series_view(rt, reading, points, now)
        rules = rules_for_series(pack, overrides, view, [])
        threshold = threshold_signal(view, rules)
        severity = worst_severity(
            threshold.severity if threshold.active else None,
            firing.get((reading.account, reading.limit, reading.resource)),
        )
        positions.append(
            SeriesPosition(
                reading=reading,
                group=rt.config.group,
                severity=severity,
                stale=stale,
                forecast=forecast_signal(view, rules),
            )
        )
    return positions
