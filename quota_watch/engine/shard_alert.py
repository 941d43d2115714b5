"""The QuotaShardSplitAdvised alert: once per pool and period while a pool needs more shards.

Fingerprint = ("shard", "pool:<group>", period start): the binding limit's period for cumulative
limits with calendar periods, else the calendar month (level limits have no period of their own).
The alert fires at once (the plan already needs a forecast with enough points), updates its
figures while it holds, resolves when the pool has enough shards (a shard was added, usage fell)
and, once resolved, stays resolved until the next period: advice is given once per period, not
once per wobble around the boundary. It sends no reminders: it is information, not an outage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from quota_watch.engine.pools import PoolLimit, PoolPlan
from quota_watch.engine.state import Transition, alertname, fingerprint
from quota_watch.model import AlertState

__all__ = ["SHARD_KIND", "pool_account", "step_shard"]

SHARD_KIND = "shard"


def pool_account(group: str) -> str:
    """The `account` of a pool's alerts ("pool:<group>"; ':' is not allowed in account names)."""
    return f"pool:{group}"


def _period(pool: PoolPlan, now: datetime) -> tuple[datetime, datetime | None]:
    binding = pool.binding
    if binding is not None and binding.period_start is not None and binding.measure == "cumulative":
        return binding.period_start, binding.period_end
    month = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return month, None


def _with_figures(
    state: AlertState, pool: PoolPlan, binding: PoolLimit, now: datetime
) -> AlertState:
    return replace(
        state,
        limit=binding.limit,
        unit=binding.unit,
        value=binding.total_value,
        cap=binding.total_cap,
        ratio=binding.utilization,
        forecast_value=binding.projected_peak,
        exhausts_at=pool.advice.exhausts_at,  # the first shard full (the plan has act_by)
        updated_at=now,
    )


def step_shard(
    prior: Sequence[AlertState], pool: PoolPlan, *, enabled: bool, now: datetime
) -> tuple[list[AlertState], list[Transition]]:
    """Advance a pool's shard alert by one plan; returns the states to save and transitions."""
    account = pool_account(pool.group)
    start, end = _period(pool, now)
    fp = fingerprint(SHARD_KIND, account, None, None, start)
    binding = pool.binding
    active = enabled and binding is not None and pool.advice.kind in ("split", "upgrade")
    states: list[AlertState] = []
    transitions: list[Transition] = []
    current: AlertState | None = None
    for old in prior:
        if old.fingerprint == fp:
            current = old
        elif old.status == "firing":  # an earlier period's advice: the period reset it
            done = replace(
                old, status="resolved", resolved_at=now, last_notified_at=now, updated_at=now
            )
            states.append(done)
            transitions.append(Transition("period_reset", done))
    if current is not None and now <= current.updated_at:
        return states, transitions
    if binding is None:
        return states, transitions
    if current is None:
        if not active:
            return states, transitions
        state = AlertState(
            fingerprint=fp,
            kind=SHARD_KIND,
            alertname=alertname(SHARD_KIND, "info"),
            provider=pool.provider,
            account=account,
            group=pool.group,
            resource=None,
            period_start=start,
            period_end=end,
            status="firing",
            severity="info",
            pending_runs=1,
            started_at=now,
            fired_at=now,
            resolved_at=None,
            last_notified_at=now,
            next_reminder_at=None,
            reminder_interval_seconds=0.0,
            value=0.0,
            cap=None,
            ratio=None,
            forecast_value=None,
            exhausts_at=None,
            unit="",
            limit=None,
            updated_at=now,
        )
        state = _with_figures(state, pool, binding, now)
        return [*states, state], [*transitions, Transition("firing", state)]
    if current.status == "resolved":
        return states, transitions  # once per pool and period
    state = _with_figures(current, pool, binding, now)
    if active:
        return [*states, state], transitions
    state = replace(state, status="resolved", resolved_at=now, last_notified_at=now)
    return [*states, state], [*transitions, Transition("resolved", state)]
