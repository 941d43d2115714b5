"""The report and its pool advice from an already open store: what `report` prints and the
status page shows, from one read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from quota_watch.collect.runtime import AccountRuntime
    from quota_watch.engine.pools import Plan
    from quota_watch.engine.rulepack import RuleOverride, RulePack
    from quota_watch.reporting.entries import Entry
    from quota_watch.status.position import SeriesPosition
    from quota_watch.store.sqlite_reader import ReadStore

__all__ = ["ReportView", "report_view"]


@dataclass(frozen=True)
class ReportView:
    """The entries of the shown accounts, the advice about them, and the plan it came from."""

    entries: list[Entry]
    advice: list[str]
    plan: Plan
    positions: list[SeriesPosition]  # of the shown accounts and their pools' other members


async def report_view(
    store: ReadStore,
    runtimes: Mapping[str, AccountRuntime],
    pool_runtimes: Mapping[str, AccountRuntime],
    pack: RulePack,
    overrides: Sequence[RuleOverride],
    now: datetime,
) -> ReportView:
    """The report of `runtimes` from `store`; `pool_runtimes` adds the other members of their
    pools, so a pool is planned whole even when only some of its accounts are shown."""
    from quota_watch.reporting.entries import entries_of
    from quota_watch.reporting.plan import advice_text
    from quota_watch.status.plan import all_advice, build_plan
    from quota_watch.status.position import load_positions

    everyone = {**pool_runtimes, **runtimes}
    positions = await load_positions(store, everyone, pack, overrides, now)
    entries = await entries_of(store, [p for p in positions if p.reading.account in runtimes], now)
    planned = {n: rt for n, rt in everyone.items() if n in runtimes or rt.config.group}
    plan = build_plan([p for p in positions if p.reading.account in planned], planned, pack, now)
    advice = [
        advice_text(a, plan.target_utilization)
        for a in all_advice(plan)
        if a.account is None or a.account in runtimes  # pool-wide, or about a shown account
    ]
    return ReportView(entries, advice, plan, positions)
