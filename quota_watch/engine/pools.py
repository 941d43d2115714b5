"""Shard-pool arithmetic and advice: how many shards a workload needs, which limit binds, by when.

A pool is the accounts sharing a `group` (one provider). Per pool and account-wide limit:
total usage and capacity, the projected peak (the forecast at the period's end for cumulative
limits with calendar periods, the trend `horizon` ahead for level limits, the current value
otherwise), per-shard imbalance and the hottest shard, headroom, and the recommended shard count
ceil(projected peak / (cap per shard * target utilization)). Advice respects the provider's
policy: where several free accounts are prohibited or the free plan is non-commercial, it
advises upgrading or optimizing instead. Per-resource limits (one database, one bucket) and
accounts outside any pool get advice of their own when they are projected to fill up.
Pure: no I/O; the caller passes the series and the clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from quota_watch.collect.catalog import Policy
from quota_watch.engine.rulepack import ShardRule

__all__ = [
    "HOT_IMBALANCE",
    "Advice",
    "AdviceKind",
    "Plan",
    "PoolLimit",
    "PoolPlan",
    "ShardFigures",
    "ShardSeries",
    "plan_pools",
    "policy_blocks_split",
    "recommended_shards",
]

AdviceKind = Literal["split", "upgrade", "rebalance", "consolidate", "archive", "ok"]

_DAY = 86400.0
HOT_IMBALANCE = 1.05
"""A shard this far above the pool's mean projected utilization is named as the hot one."""


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


def policy_blocks_split(policy: Policy | None) -> bool:
    """Whether the provider's terms rule out adding free accounts (or free commercial use)."""
    if policy is None:
        return False
    return policy.multi_account == "prohibited" or policy.commercial_use == "prohibited"


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


@dataclass(frozen=True, slots=True, kw_only=True)
class Advice:
    """One piece of advice: what to do about a pool, an account or one resource, and why."""

    kind: AdviceKind
    provider: str
    group: str | None = None
    account: str | None = None
    limit: str
    title: str = ""
    resource: str | None = None
    unit: str = ""
    shards: int = 1
    recommended: int = 1
    hot_shard: str | None = None
    cool_shards: tuple[str, ...] = ()
    value: float = 0.0
    cap: float | None = None
    projected: float | None = None
    projected_from: str = ""
    act_by: datetime | None = None
    exhausts_at: datetime | None = None
    policy_reason: str | None = None  # why a split is not advised, from the catalogue's policy
    policy_caution: str | None = None  # a split is advised, but the terms are unclear
    display_unit: str | None = None

    @property
    def needs_action(self) -> bool:
        """Whether this advice asks the user to do something (anything but ok/consolidate)."""
        return self.kind in ("split", "upgrade", "rebalance", "archive")


@dataclass(frozen=True, slots=True)
class PoolPlan:
    """One pool: its limits, the binding one and the advice."""

    provider: str
    group: str
    accounts: tuple[str, ...]
    limits: tuple[PoolLimit, ...]
    binding: PoolLimit | None
    advice: Advice

    @property
    def shards(self) -> int:
        """Accounts in the pool."""
        return len(self.accounts)

    @property
    def recommended(self) -> int:
        """Shards the binding limit needs (the pool's size when nothing is known)."""
        return self.binding.recommended if self.binding is not None else self.shards


@dataclass(frozen=True, slots=True)
class Plan:
    """Every pool's plan and the advice for series outside pools or per resource."""

    pools: tuple[PoolPlan, ...]
    advice: tuple[Advice, ...]  # single accounts and per-resource series
    target_utilization: float
    now: datetime


def _projection(s: ShardSeries, horizon: timedelta) -> tuple[float, str]:
    if s.measure == "cumulative" and s.calendar:
        if s.forecast_value is not None:
            return max(s.forecast_value, s.value), "period end"
        return s.value, "current value"
    if s.measure == "level" and s.rate is not None:
        return max(s.value, s.value + s.rate * horizon.total_seconds()), "horizon"
    return s.value, "current value"


def _exhaustion(s: ShardSeries, horizon: timedelta, now: datetime) -> datetime | None:
    """When the series fills up: within its period (cumulative) or the horizon (level)."""
    if s.exhausts_at is None:
        return None
    if s.measure == "level" and s.exhausts_at > now + horizon:
        return None
    return s.exhausts_at


def _pool_limit(
    provider: str, group: str, series: Sequence[ShardSeries], rule: ShardRule, now: datetime
) -> PoolLimit | None:
    capped = [s for s in series if s.cap is not None and s.cap > 0]
    if not capped or len(capped) != len(series):
        return None  # a shard without a cap: the pool's capacity is unknown
    shards: list[ShardFigures] = []
    kinds: set[str] = set()
    for s in sorted(capped, key=lambda x: x.account):
        assert s.cap is not None
        projected, kind = _projection(s, rule.horizon)
        kinds.add(kind)
        shards.append(
            ShardFigures(
                account=s.account,
                value=s.value,
                cap=s.cap,
                projected=projected,
                utilization=s.value / s.cap,
                projected_utilization=projected / s.cap,
                exhausts_at=_exhaustion(s, rule.horizon, now),
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


def _combined(kinds: set[str]) -> str:
    for kind in ("period end", "horizon"):
        if kind in kinds:
            return kind
    return "current value"


def _binding(limits: Sequence[PoolLimit]) -> PoolLimit | None:
    if not limits:
        return None
    return max(limits, key=lambda p: (p.recommended, p.projected_utilization, p.limit))


def _pool_advice(
    provider: str,
    group: str,
    accounts: Sequence[str],
    limits: Sequence[PoolLimit],
    binding: PoolLimit | None,
    policy: Policy | None,
    rule: ShardRule,
    warning: float,
) -> Advice:
    shards = len(accounts)
    if binding is None:
        return Advice(kind="ok", provider=provider, group=group, limit="", shards=shards)
    base = Advice(
        kind="ok",
        provider=provider,
        group=group,
        limit=binding.limit,
        title=binding.title,
        unit=binding.unit,
        display_unit=binding.display_unit,
        shards=shards,
        recommended=binding.recommended,
        value=binding.total_value,
        cap=binding.total_cap,
        projected=binding.projected_peak,
        projected_from=binding.projected_from,
        act_by=binding.act_by,
        exhausts_at=min((f.exhausts_at for f in binding.shards if f.exhausts_at), default=None),
    )
    if binding.recommended > shards:
        hot = binding.hottest if (binding.imbalance or 0) >= HOT_IMBALANCE else None
        # Act before the pool passes its target, and before the first shard fills up.
        deadlines = [d for d in (binding.act_by, base.exhausts_at) if d is not None]
        base = replace(base, act_by=min(deadlines, default=None))
        if policy_blocks_split(policy):
            assert policy is not None
            return replace(base, kind="upgrade", hot_shard=hot, policy_reason=_reason(policy))
        return replace(base, kind="split", hot_shard=hot, policy_caution=_caution(policy))
    hot_limit = _hot_limit(limits, rule, warning)
    if hot_limit is not None:
        hottest = max(hot_limit.shards, key=lambda f: f.projected_utilization)
        cool = tuple(
            f.account
            for f in sorted(hot_limit.shards, key=lambda f: f.projected_utilization)
            if f.projected_utilization < rule.target_utilization
        )
        return replace(
            base,
            kind="rebalance",
            hot_shard=hottest.account,
            cool_shards=cool,
            limit=hot_limit.limit,
            title=hot_limit.title,
            unit=hot_limit.unit,
            display_unit=hot_limit.display_unit,
            recommended=hot_limit.recommended,
            value=hottest.value,
            cap=hottest.cap,
            projected=hottest.projected,
            projected_from=hot_limit.projected_from,
            act_by=hottest.exhausts_at,
            exhausts_at=hottest.exhausts_at,
        )
    # Only a real projection (not a value early in its period) can say a whole period fits.
    if shards >= 2 and all(
        p.projected_from != "current value"
        and recommended_shards(p.projected_peak, p.cap_per_shard, rule.target_utilization)
        <= shards - 1
        for p in limits
    ):
        return replace(base, kind="consolidate")
    return base


def _hot_limit(limits: Sequence[PoolLimit], rule: ShardRule, warning: float) -> PoolLimit | None:
    """The limit where one shard is projected past the warning level while the pool has room."""
    hot = [
        p
        for p in limits
        if p.projected_utilization < rule.target_utilization
        and max(f.projected_utilization for f in p.shards) >= warning
        and len(p.shards) >= 2
    ]
    return max(hot, key=lambda p: max(f.projected_utilization for f in p.shards), default=None)


def _reason(policy: Policy) -> str:
    parts = []
    if policy.multi_account == "prohibited":
        parts.append("the provider's terms allow only one free account per person or entity")
    if policy.commercial_use == "prohibited":
        parts.append("the free plan is for non-commercial use only")
    return "; ".join(parts)


def _caution(policy: Policy | None) -> str | None:
    if policy is None or policy.multi_account == "allowed":
        return None
    if policy.multi_account == "discouraged":
        return "the provider discourages several free accounts for one workload"
    return "the provider's terms do not say whether several free accounts are allowed"


def _single_advice(
    s: ShardSeries, policy: Policy | None, rule: ShardRule, now: datetime
) -> Advice | None:
    """Advice for a per-resource series or an account outside any pool, when it will fill up."""
    if s.cap is None or s.cap <= 0:
        return None
    projected, kind = _projection(s, rule.horizon)
    exhausts_at = _exhaustion(s, rule.horizon, now)
    if exhausts_at is None and projected < s.cap:
        return None
    recommended = recommended_shards(projected, s.cap, rule.target_utilization)
    base = Advice(
        kind="split",
        provider=s.provider,
        group=s.group,
        account=s.account,
        limit=s.limit,
        title=s.title,
        resource=s.resource,
        unit=s.unit,
        display_unit=s.display_unit,
        recommended=recommended,
        value=s.value,
        cap=s.cap,
        projected=projected,
        projected_from=kind,
        exhausts_at=exhausts_at,
        act_by=exhausts_at or now,
    )
    if s.resource is not None:
        return replace(base, kind="archive")
    if policy_blocks_split(policy):
        assert policy is not None
        return replace(base, kind="upgrade", policy_reason=_reason(policy))
    return replace(base, policy_caution=_caution(policy))


def plan_pools(
    series: Iterable[ShardSeries],
    pools: Mapping[str, tuple[str, Sequence[str]]],
    policies: Mapping[str, Policy],
    rule: ShardRule,
    now: datetime,
    *,
    warning: float = 0.8,
) -> Plan:
    """Plan every pool (`pools`: group -> (provider, member accounts)) and advise on the rest.

    `series`: the latest figures of every series of the accounts to plan (pool members and
    single accounts). `warning`: the threshold rule's warning ratio, above which a shard counts
    as hot. Pools are sorted by group, single advice by account, limit and resource.
    """
    by_pool: dict[str, dict[str, list[ShardSeries]]] = {}
    single: list[Advice] = []
    for s in series:
        if s.group is not None and s.group in pools and s.resource is None:
            by_pool.setdefault(s.group, {}).setdefault(s.limit, []).append(s)
            continue
        advice = _single_advice(s, policies.get(s.provider), rule, now)
        if advice is not None:
            single.append(advice)
    plans = []
    for group in sorted(pools):
        provider, accounts = pools[group]
        limits = [
            p
            for name in sorted(by_pool.get(group, {}))
            if (p := _pool_limit(provider, group, by_pool[group][name], rule, now)) is not None
        ]
        binding = _binding(limits)
        advice = _pool_advice(
            provider, group, accounts, limits, binding, policies.get(provider), rule, warning
        )
        plans.append(
            PoolPlan(
                provider=provider,
                group=group,
                accounts=tuple(sorted(accounts)),
                limits=tuple(limits),
                binding=binding,
                advice=advice,
            )
        )
    single.sort(key=lambda a: (a.account or "", a.limit, a.resource or ""))
    return Plan(
        pools=tuple(plans),
        advice=tuple(single),
        target_utilization=rule.target_utilization,
        now=now,
    )
