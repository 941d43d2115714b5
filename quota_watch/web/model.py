"""The status page's data: the report's entries and advice, firing alerts and silences, the
filters, laid out per account with the report's own cells."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from quota_watch.model import AlertState, SeriesKey, Silence
from quota_watch.reporting.command import ReportRequest, choose
from quota_watch.reporting.entries import STATUSES, Entry, grouped, only_statuses
from quota_watch.reporting.render import cells, until
from quota_watch.reporting.view import ReportView, report_view
from quota_watch.units import iso_z, percent
from quota_watch.web.source import LiveSource, PageStore
from quota_watch.web.sparkline import sparkline_path

if TYPE_CHECKING:
    from quota_watch.collect.runtime import AccountRuntime
    from quota_watch.engine.pools import PoolPlan

__all__ = [
    "AccountBlock",
    "Choices",
    "NotReady",
    "PageData",
    "PageRow",
    "PoolSummary",
    "filters_of",
    "load_page",
    "load_report",
    "shown_runtimes",
]

_SERIES_MATCHERS = frozenset({"provider", "account", "group", "limit", "resource"})


class NotReady(Exception):
    """The daemon's store is not open yet."""


@dataclass(frozen=True)
class Choices:
    """The values each filter offers, and the chosen ones."""

    providers: list[str]
    groups: list[str]
    statuses: list[str]
    chosen: ReportRequest


@dataclass(frozen=True)
class PageRow:
    """One series on the page: the report's cells and what the page adds."""

    entry: Entry
    cells: dict[str, str]
    bar_percent: float | None  # the bar's fill, 0-100; None without a cap
    sparkline: str  # SVG path data
    samples: int  # points the forecast was fitted on
    silenced: bool
    resets_iso: str
    exhausts_iso: str

    @property
    def key(self) -> str:
        """account/limit[/resource]: a stable id for links and tests."""
        r = self.entry.row
        return "/".join(p for p in (r.account, r.limit, r.resource) if p)


@dataclass(frozen=True)
class AccountBlock:
    """One account's rows, riskiest first."""

    provider: str
    account: str
    group: str | None
    rows: list[PageRow]


@dataclass(frozen=True)
class PoolSummary:
    """One pool from the plan: its size, what it needs, the binding limit."""

    group: str
    provider: str
    accounts: tuple[str, ...]
    shards: int
    recommended: int
    binding: str
    projected: str


@dataclass(frozen=True)
class PageData:
    """Everything one page render shows."""

    now: datetime
    blocks: list[AccountBlock]
    counts: dict[str, int]
    advice: list[str]
    pools: list[PoolSummary]
    alerts: list[AlertState]
    silences: list[Silence]
    choices: Choices
    total_accounts: int
    alert_when: dict[str, str] = field(default_factory=dict)  # fingerprint -> "3h ago"
    silence_until: dict[int, str] = field(default_factory=dict)  # silence id -> "in 2h"


def filters_of(
    params: Mapping[str, Sequence[str]], runtimes: Mapping[str, AccountRuntime]
) -> ReportRequest:
    """The filters in the query (repeatable or comma lists), checked like report's options;
    ReportError naming the parameter otherwise."""
    configs = [rt.config for rt in runtimes.values()]
    return ReportRequest(
        providers=choose(
            "provider", params.get("provider"), sorted({c.collector for c in configs})
        ),
        accounts=choose("account", params.get("account"), sorted(c.name for c in configs)),
        groups=choose("group", params.get("group"), sorted({c.group for c in configs if c.group})),
        statuses=choose("status", params.get("status"), STATUSES),
    )


def shown_runtimes(
    runtimes: Mapping[str, AccountRuntime], request: ReportRequest
) -> tuple[dict[str, AccountRuntime], dict[str, AccountRuntime]]:
    """The accounts `request` selects, and the other members of their pools."""
    shown = {n: rt for n, rt in runtimes.items() if request.selects(rt.config)}
    pools = {rt.config.group for rt in shown.values() if rt.config.group}
    others = {n: rt for n, rt in runtimes.items() if rt.config.group in pools and n not in shown}
    return shown, others


def _store(source: LiveSource) -> PageStore:
    store = source.store()
    if store is None:
        raise NotReady("the store is not open yet")
    return store


async def load_report(
    source: LiveSource, request: ReportRequest, now: datetime
) -> tuple[ReportView, list[Entry]]:
    """The report view of the selected accounts and its entries with the status filter."""
    shown, others = shown_runtimes(source.runtimes(), request)
    view = await report_view(_store(source), shown, others, source.pack(), source.overrides(), now)
    return view, only_statuses(view.entries, request.statuses)


def _pool_summary(pool: PoolPlan) -> PoolSummary:
    binding = pool.binding
    return PoolSummary(
        group=pool.group,
        provider=pool.provider,
        accounts=pool.accounts,
        shards=pool.shards,
        recommended=pool.recommended,
        binding=(binding.title or binding.limit) if binding else "-",
        projected=percent(binding.projected_utilization) if binding else "-",
    )


def _page_row(
    entry: Entry,
    samples: Mapping[SeriesKey, int],
    firing: Mapping[SeriesKey, Sequence[AlertState]],
    silences: Sequence[Silence],
    now: datetime,
) -> PageRow:
    r = entry.row
    key = (r.account, r.limit, r.resource)
    return PageRow(
        entry=entry,
        cells=cells(entry, now),
        bar_percent=None
        if r.utilization is None
        else round(min(max(r.utilization, 0.0), 1.0) * 100, 1),
        sparkline=sparkline_path(entry.trend, r.cap),
        samples=samples.get(key, 0),
        silenced=entry.row.silenced,
        resets_iso=iso_z(r.resets_at) if r.resets_at else "",
        exhausts_iso=iso_z(r.exhausts_at) if r.exhausts_at else "",
    )


async def load_page(source: LiveSource, request: ReportRequest) -> PageData:
    """One read of the store for the page: entries, advice, plan, alerts and silences."""
    now = source.clock()
    runtimes = source.runtimes()
    view, entries = await load_report(source, request, now)
    store = _store(source)
    selected = {n for n, rt in runtimes.items() if request.selects(rt.config)}
    alerts = [
        a for a in await store.load_alerts() if a.status == "firing" and a.account in selected
    ]
    silences = await store.list_silences(now)
    samples: dict[SeriesKey, int] = {
        (p.reading.account, p.reading.limit, p.reading.resource): p.forecast.points_used
        for p in view.positions
        if p.forecast is not None
    }
    firing: dict[SeriesKey, list[AlertState]] = {}
    for alert in alerts:
        if alert.limit is not None:
            firing.setdefault((alert.account, alert.limit, alert.resource), []).append(alert)
    blocks = [
        AccountBlock(
            block[0].row.provider,
            block[0].row.account,
            block[0].group,
            [_page_row(e, samples, firing, silences, now) for e in block],
        )
        for block in grouped(entries)
    ]
    counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
    for entry in view.entries:
        counts[entry.row.status] += 1
    pools = [_pool_summary(p) for p in view.plan.pools if set(p.accounts) & selected]
    configs = [rt.config for rt in runtimes.values()]
    return PageData(
        now=now,
        blocks=blocks,
        counts=counts,
        advice=view.advice,
        pools=pools,
        alerts=alerts,
        silences=silences,
        choices=Choices(
            providers=sorted({c.collector for c in configs}),
            groups=sorted({c.group for c in configs if c.group}),
            statuses=list(STATUSES),
            chosen=request,
        ),
        total_accounts=len(selected),
        alert_when={a.fingerprint: until(a.fired_at or a.started_at, now) for a in alerts},
        silence_until={s.id: until(s.ends_at, now) for s in silences if s.id is not None},
    )
