"""Where every monitored series stands now: latest reading, rules' verdict, forecast, staleness."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from quota_watch.model import AlertState, Severity
from quota_watch.store.models import StoredForecast, StoredReading

if TYPE_CHECKING:
    from quota_watch.collect.runtime import AccountRuntime
    from quota_watch.engine.rulepack import RuleOverride, RulePack
    from quota_watch.engine.signals import Signal
    from quota_watch.store.sqlite_reader import ReadStore

__all__ = [
    "STATUS_ORDER",
    "SeriesPosition",
    "Status",
    "forecast_record",
    "load_positions",
    "signal_of",
    "worst_severity",
]

Status = Literal["ok", "warning", "critical", "stale", "unknown"]
STATUS_ORDER: dict[str, int] = {"critical": 0, "warning": 1, "stale": 2, "unknown": 3, "ok": 4}
"""Riskiest first."""

_RANK = {"critical": 2, "warning": 1}
_SEVERITY: dict[str, Severity] = {"info": "info", "warning": "warning", "critical": "critical"}


def worst_severity(a: str | None, b: str | None) -> str | None:
    """The more severe of two alert severities (critical > warning > anything else)."""
    return a if _RANK.get(a or "", 0) >= _RANK.get(b or "", 0) and a else b


@dataclass(frozen=True, slots=True)
class SeriesPosition:
    """One series now: its newest reading, the account's pool, the rules' verdict."""

    reading: StoredReading
    group: str | None
    severity: str | None  # threshold now or a firing threshold/forecast alert
    stale: bool
    forecast: Signal | None
    display_unit: str | None = None  # the limit's unit for people (limits.toml)

    @property
    def utilization(self) -> float | None:
        """value / cap, or None without a positive cap."""
        cap = self.reading.cap
        return self.reading.value / cap if cap else None


def forecast_record(
    account: str, limit: str, resource: str | None, signal: Signal, computed_at: datetime
) -> StoredForecast | None:
    """The stored form of a forecast `signal` computed at `computed_at` (None if a figure is
    not finite: such a forecast is recomputed by the reader instead of failing the write)."""
    figures = (
        signal.value,
        signal.cap,
        signal.ratio,
        signal.forecast_value,
        signal.forecast_utilization,
        signal.rate,
    )
    if any(f is not None and not math.isfinite(f) for f in figures):
        return None
    return StoredForecast(
        account=account,
        limit=limit,
        resource=resource,
        computed_at=computed_at,
        active=signal.active,
        sustained=signal.sustained,
        severity=signal.severity,
        value=signal.value,
        cap=signal.cap,
        ratio=signal.ratio,
        forecast_value=signal.forecast_value,
        forecast_utilization=signal.forecast_utilization,
        exhausts_at=signal.exhausts_at,
        rate=signal.rate,
        unit=signal.unit,
        points_used=signal.points_used,
        notes=signal.notes,
    )


def signal_of(record: StoredForecast) -> Signal:
    """The forecast Signal a stored forecast was made from."""
    from quota_watch.engine.signals import Signal

    return Signal(
        kind="forecast",
        active=record.active,
        sustained=record.sustained,
        severity=_SEVERITY.get(record.severity, "warning"),
        value=record.value,
        cap=record.cap,
        ratio=record.ratio,
        forecast_value=record.forecast_value,
        forecast_utilization=record.forecast_utilization,
        exhausts_at=record.exhausts_at,
        rate=record.rate,
        unit=record.unit,
        points_used=record.points_used,
        notes=record.notes,
    )


def _firing_severities(
    alerts: Sequence[AlertState],
) -> dict[tuple[str, str | None, str | None], str | None]:
    """The worst severity of the firing threshold/forecast alerts of each series."""
    firing: dict[tuple[str, str | None, str | None], str | None] = {}
    for alert in alerts:
        if alert.status == "firing" and alert.kind in ("threshold", "forecast"):
            key = (alert.account, alert.limit, alert.resource)
            firing[key] = worst_severity(firing.get(key), alert.severity)
    return firing


async def load_positions(
    store: ReadStore,
    runtimes: Mapping[str, AccountRuntime],
    pack: RulePack,
    overrides: Sequence[RuleOverride],
    now: datetime,
    *,
    stored_forecasts: bool = True,
) -> list[SeriesPosition]:
    """The position of every stored series of the accounts in `runtimes`, in store order.

    Reads the latest readings, account health and firing alerts, then runs the threshold rule
    as the daemon does after a poll. The forecast is the daemon's stored one when it was
    computed at or after the series' newest reading; otherwise (or with
    `stored_forecasts=False`) it is computed here from the samples (one query for all such
    series).
    """
    from quota_watch.engine.forecast import forecast_signal
    from quota_watch.engine.health import is_stale
    from quota_watch.engine.provider_forecast import with_provider_forecast
    from quota_watch.engine.scope import rules_for_series
    from quota_watch.engine.threshold import threshold_signal
    from quota_watch.status.series import fetch_since, points_since, series_view

    # A limit the collector no longer declares (a catalogue change) has no spec to evaluate.
    readings = [
        r
        for r in await store.latest(accounts=set(runtimes))
        if r.limit in runtimes[r.account].limits
    ]
    statuses = {s.account: s for s in await store.account_statuses()}
    firing = _firing_severities(await store.load_alerts())
    stored = (
        await store.forecasts_of_accounts({r.account for r in readings}) if stored_forecasts else {}
    )
    current: dict[tuple[str, str, str | None], Signal] = {}
    for reading in readings:
        key = (reading.account, reading.limit, reading.resource)
        record = stored.get(key)
        if record is not None and record.computed_at >= reading.ts:
            current[key] = signal_of(record)
    lookback = max(
        [pack.forecast.lookback, *(o.forecast_lookback for o in overrides if o.forecast_lookback)]
    )
    behind = {r.account for r in readings if (r.account, r.limit, r.resource) not in current}
    samples = (
        await store.samples_of_accounts(behind, now - lookback, now + timedelta(seconds=1))
        if behind
        else {}
    )
    positions = []
    for reading in readings:
        rt = runtimes[reading.account]
        key = (reading.account, reading.limit, reading.resource)
        status = statuses.get(reading.account)
        success = status.last_success_at if status and status.last_success_at else reading.ts
        stale = is_stale(
            success, 0, interval=rt.config.interval, after_runs=pack.stale.after_runs, now=now
        )
        forecast = current.get(key)
        if forecast is None:
            since = fetch_since(reading, now, lookback)
            points: Sequence[tuple[datetime, float]] = points_since(samples.get(key, []), since)
        else:  # the threshold reads only the newest point, which is the reading itself
            points = [(reading.ts, reading.value)]
        view = series_view(rt, reading, points, now)
        rules = rules_for_series(pack, overrides, view, [])
        threshold = threshold_signal(view, rules)
        severity = worst_severity(threshold.severity if threshold.active else None, firing.get(key))
        positions.append(
            SeriesPosition(
                reading=reading,
                group=rt.config.group,
                severity=severity,
                stale=stale,
                forecast=forecast
                if forecast is not None
                else with_provider_forecast(forecast_signal(view, rules), view, rules),
                display_unit=rt.limits[reading.limit].display_unit,
            )
        )
    return positions
