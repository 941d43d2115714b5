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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from quota_watch.collect.catalog import Policy
from quota_watch.engine.poolfigures import (
    PoolLimit,
    ShardFigures,
    ShardSeries,
    binding_limit,
    exhaustion,
    pool_limit,
    projection,
    recommended_shards,
)
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

HOT_IMBALANCE = 1.05
"""A shard this far above the pool's mean projected utilization is named as the hot one."""


def policy_blocks_split(policy: Policy | None) -> bool:
    """Whether the provider's terms rule out adding free accounts (or free commercial use)."""
    if policy is None:
        return False
    return policy.multi_account == "prohibited" or policy.commercial_use == "prohibited"


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
    projected, kind = projection(s, rule.horizon)
    exhausts_at = exhaustion(s, rule.horizon, now)
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
            if (p := pool_limit(provider, group, by_pool[group][name], rule, now)) is not None
        ]
        binding = binding_limit(limits)
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
