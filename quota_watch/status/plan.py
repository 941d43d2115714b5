"""`quota-watch plan`: shard pools and split advice from the store, as text, markdown or JSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from quota_watch.collect.catalog import Policy
from quota_watch.engine.pools import (
    Advice,
    Plan,
    PoolLimit,
    PoolPlan,
    ShardSeries,
    plan_pools,
)
from quota_watch.engine.signals import CALENDAR_PERIODS

if TYPE_CHECKING:
    from quota_watch.collect.runtime import AccountRuntime
    from quota_watch.engine.rulepack import RulePack
    from quota_watch.status.position import SeriesPosition

__all__ = [
    "SHOWN_FROM",
    "all_advice",
    "build_plan",
    "pools_of",
    "shard_series",
    "shown_limits",
]


def pools_of(runtimes: Mapping[str, AccountRuntime]) -> dict[str, tuple[str, list[str]]]:
    """Configured pools: group -> (provider, member accounts)."""
    pools: dict[str, tuple[str, list[str]]] = {}
    for name, rt in sorted(runtimes.items()):
        if rt.config.group is not None:
            pools.setdefault(rt.config.group, (rt.provider, []))[1].append(name)
    return pools


def shard_series(
    positions: Sequence[SeriesPosition], runtimes: Mapping[str, AccountRuntime]
) -> list[ShardSeries]:
    """The planner's view of stored positions."""
    found = []
    for p in positions:
        r = p.reading
        spec = runtimes[r.account].limits[r.limit]
        f = p.forecast
        found.append(
            ShardSeries(
                provider=r.provider,
                account=r.account,
                group=p.group,
                limit=r.limit,
                resource=r.resource,
                title=spec.title,
                unit=r.unit,
                display_unit=spec.display_unit,
                measure=r.measure,
                calendar=spec.period.kind in CALENDAR_PERIODS,
                value=r.value,
                cap=r.cap,
                period_start=r.period_start,
                period_end=r.period_end,
                forecast_value=f.forecast_value if f else None,
                rate=f.rate if f else None,
                exhausts_at=f.exhausts_at if f else None,
                stale=p.stale,
                provider_forecast=r.forecast,
                forecast_points=f.points_used if f else None,
            )
        )
    return found


def build_plan(
    positions: Sequence[SeriesPosition],
    runtimes: Mapping[str, AccountRuntime],
    pack: RulePack,
    now: datetime,
) -> Plan:
    """The plan of every pool in `runtimes` and advice for every other series."""
    policies: dict[str, Policy] = {
        rt.provider: rt.info.catalogue.provider.policy for rt in runtimes.values()
    }
    return plan_pools(
        shard_series(positions, runtimes),
        pools_of(runtimes),
        policies,
        pack.shard,
        now,
        warning=pack.threshold.warning,
    )


def all_advice(plan: Plan) -> list[Advice]:
    """Pool advice that asks for action, then single-series advice."""
    return [p.advice for p in plan.pools if p.advice.kind != "ok"] + list(plan.advice)


SHOWN_FROM = 0.25
"""Without --all, a pool's table lists the limits projected at or above this utilization (and
any needing more than one shard); the binding limit always shows."""


def shown_limits(pool: PoolPlan, show_all: bool) -> tuple[list[PoolLimit], int]:
    """The pool's limits riskiest first (binding first), and how many were left out."""
    ranked = sorted(
        pool.limits,
        key=lambda p: (p is not pool.binding, -p.recommended, -p.projected_utilization, p.limit),
    )
    if show_all:
        return ranked, 0
    shown = [
        p
        for p in ranked
        if p is pool.binding or p.recommended > 1 or p.projected_utilization >= SHOWN_FROM
    ]
    return shown, len(ranked) - len(shown)
