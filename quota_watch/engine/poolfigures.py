"""Pool figures per limit: each shard's projection, the pool's totals, balance, headroom, the
date to act by and the shards it needs. Pure arithmetic; `quota_watch.engine.pools` turns these
figures into advice."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from quota_watch.engine.rulepack import ShardRule

__all__ = [
    "PoolLimit",
    "ShardFigures",
    "ShardSeries",
    "binding_limit",
    "exhaustion",
    "pool_limit",
    "projection",
    "recommended_shards",
]

_DAY = 86400.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ShardSeries:
    """One series of one account as the planner sees it (from the store and the forecast)."""

    provider: str
    account: str
    group: str | None
    limit: str
    resource: str | None = None
    title: str = ""
    unit: str
    measure: str  # "cumulative" | "level"
    calendar: bool  # a calendar period (daily, month, billing cycle) that resets the value
    value: float
    cap: float | None
    period_start: datetime | None = None
    period_end: datetime | None = None
    forecast_value: float | None = None  # at period end (cumulative) or the forecast horizon
    rate: float | None = None  # the trend, units per second
    exhausts_at: datetime | None = None
    stale: bool = False
    provider_forecast: float | None = None  # the provider's own value at period end
    display_unit: str | None = None  # the provider's unit for people (limits.toml)
    forecast_points: int | None = None  # the points the forecast was fitted on (its confidence)


def recommended_shards(projected_peak: float, cap_per_shard: float, target: float) -> int:
    """ceil(projected peak / (cap per shard * target)), at least 1."""
    if cap_per_shard <= 0 or target <= 0:
        raise ValueError("cap per shard and target utilization must be > 0")
    # Round away float noise first: 2.1 / 0.7 must give 3, not 4.
    return max(1, math.ceil(round(projected_peak / (cap_per_shard * target), 9)))


@dataclass(frozen=True, slots=True)
class ShardFigures:
    """One shard of a pool for one limit."""

    account: str
    value: float
    cap: float
    projected: float
    utilization: float
    projected_utilization: float
    exhausts_at: datetime | None
    stale: bool
    provider_forecast: float | None = None  # the provider's own value at period end


@dataclass(frozen=True, slots=True)
class PoolLimit:
    """One account-wide limit of one pool: totals, projection, balance and shards needed."""

    provider: str
    group: str
    limit: str
    title: str
    unit: str
    measure: str
    shards: tuple[ShardFigures, ...]
    total_value: float
    total_cap: float
    cap_per_shard: float
    projected_peak: float
    projected_from: str  # "period end" | "horizon" | "current value"
    recommended: int
    imbalance: float | None  # max / mean of the shards' projected utilization
    hottest: str | None
    rate: float | None  # pool trend, units per second
    headroom_days: float | None  # until the pool total reaches its capacity at that rate
    act_by: datetime | None  # when the pool passes target utilization of its capacity
    period_start: datetime | None
    period_end: datetime | None
    display_unit: str | None = None
    forecast_points: int | None = None  # the fewest points any shard's forecast rests on

    @property
    def utilization(self) -> float:
        """Total usage / total capacity."""
        return self.total_value / self.total_cap

    @property
    def projected_utilization(self) -> float:
        """Projected peak / total capacity."""
        return self.projected_peak / self.total_cap


def projection(s: ShardSeries, horizon: timedelta) -> tuple[float, str]:
    """The series' projected peak and where it comes from (period end, horizon, current value)."""
    if s.measure == "cumulative" and s.calendar:
        if s.forecast_value is not None:
            return max(s.forecast_value, s.value), "period end"
        return s.value, "current value"
    if s.measure == "level" and s.rate is not None:
        return max(s.value, s.value + s.rate * horizon.total_seconds()), "horizon"
    return s.value, "current value"


def exhaustion(s: ShardSeries, horizon: timedelta, now: datetime) -> datetime | None:
    """When the series fills up: within its period (cumulative) or the horizon (level)."""
    if s.exhausts_at is None:
        return None
    if s.measure == "level" and s.exhausts_at > now + horizon:
        return None
    return s.exhausts_at


def pool_limit(
    provider: str, group: str, series: Sequence[ShardSeries], rule: ShardRule, now: datetime
) -> PoolLimit | None:
    """One account-wide limit of one pool (None when a shard has no cap)."""
    capped = [s for s in series if s.cap is not None and s.cap > 0]
    if not capped or len(capped) != len(series):
        return None  # a shard without a cap: the pool's capacity is unknown
    shards: list[ShardFigures] = []
    kinds: set[str] = set()
    for s in sorted(capped, key=lambda x: x.account):
        assert s.cap is not None
        projected, kind = projection(s, rule.horizon)
        kinds.add(kind)
        shards.append(
            ShardFigures(
                account=s.account,
                value=s.value,
                cap=s.cap,
                projected=projected,
                utilization=s.value / s.cap,
                projected_utilization=projected / s.cap,
                exhausts_at=exhaustion(s, rule.horizon, now),
                stale=s.stale,
                provider_forecast=s.provider_forecast,
            )
        )
    total_value = sum(f.value for f in shards)
    total_cap = sum(f.cap for f in shards)
    peak = sum(f.projected for f in shards)
    cap_per_shard = total_cap / len(shards)
    mean = sum(f.projected_utilization for f in shards) / len(shards)
    hottest = max(shards, key=lambda f: (f.projected_utilization, f.account))
    rates = [s.rate for s in capped if s.rate is not None]
    rate = sum(max(r, 0.0) for r in rates) if len(rates) == len(capped) else None
    first = series[0]
    headroom_days, act_by = _timing(first, total_value, total_cap, rate, rule, now)
    return PoolLimit(
        provider=provider,
        group=group,
        limit=first.limit,
        title=first.title,
        unit=first.unit,
        display_unit=first.display_unit,
        measure=first.measure,
        shards=tuple(shards),
        total_value=total_value,
        total_cap=total_cap,
        cap_per_shard=cap_per_shard,
        projected_peak=peak,
        projected_from=_combined(kinds),
        recommended=recommended_shards(peak, cap_per_shard, rule.target_utilization),
        imbalance=hottest.projected_utilization / mean if mean > 0 else None,
        hottest=hottest.account if mean > 0 else None,
        rate=rate,
        headroom_days=headroom_days,
        act_by=act_by,
        period_start=max((s.period_start for s in series if s.period_start), default=None),
        period_end=max((s.period_end for s in series if s.period_end), default=None),
        forecast_points=min(
            (s.forecast_points for s in series if s.forecast_points is not None), default=None
        ),
    )


def _timing(
    first: ShardSeries,
    total_value: float,
    total_cap: float,
    rate: float | None,
    rule: ShardRule,
    now: datetime,
) -> tuple[float | None, datetime | None]:
    """Days of headroom at the pool's rate, and when it passes the target utilization; None
    when that comes after the period's reset or beyond the horizon."""
    resets = first.calendar and first.measure == "cumulative" and first.period_end is not None
    headroom_days = None
    if total_value >= total_cap:
        headroom_days = 0.0
    elif rate is not None and rate > 0:
        headroom_days = (total_cap - total_value) / rate / _DAY
        if resets and first.period_end is not None:
            # The pool is never full this period when the reset comes first.
            left = (first.period_end - now).total_seconds() / _DAY
            headroom_days = headroom_days if headroom_days < left else None
    target_level = total_cap * rule.target_utilization
    act_by = None
    if total_value >= target_level:
        act_by = now
    elif rate is not None and rate > 0:
        act_by = now + timedelta(seconds=(target_level - total_value) / rate)
        if resets and first.period_end is not None:
            act_by = act_by if act_by < first.period_end else None
        elif act_by > now + rule.horizon:
            act_by = None
    return headroom_days, act_by


def _combined(kinds: set[str]) -> str:
    for kind in ("period end", "horizon"):
        if kind in kinds:
            return kind
    return "current value"


def binding_limit(limits: Sequence[PoolLimit]) -> PoolLimit | None:
    """The limit that needs the most shards (then the fullest)."""
    if not limits:
        return None
    return max(limits, key=lambda p: (p.recommended, p.projected_utilization, p.limit))
