"""Rendering of a shard plan: advice sentences, text and markdown tables, JSON."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from quota_watch.engine.pools import (
    HOT_IMBALANCE,
    Advice,
    Plan,
    PoolLimit,
    PoolPlan,
)
from quota_watch.reporting.terminal import Column, Screen, TableRow
from quota_watch.status.plan import SHOWN_FROM, all_advice, shown_limits
from quota_watch.units import (
    format_days,
    human,
    iso_z,
    percent,
    used_of_cap,
    utc_minute,
    without_display_unit,
)

if TYPE_CHECKING:
    pass


def _sentence(text: str) -> str:
    """`text` with its first letter capitalized (str.capitalize lowercases the rest)."""
    return text[:1].upper() + text[1:]


def _amount(of: Advice | PoolLimit, value: float | None) -> str:
    """`value` of the limit in its provider's unit (the one formatter, quota_watch.units)."""
    return human(value, of.unit, of.display_unit)


def _of(a: Advice, value: float | None) -> str:
    """ "249k of 300k requests": `value` of the advice's cap, the unit written once."""
    return used_of_cap(value, a.cap, a.unit, a.display_unit, joiner=" of ")


def _name(a: Advice) -> str:
    return a.title or a.limit


def _subject(a: Advice) -> str:
    if a.resource is not None:
        return f"{a.resource} ({_name(a)}, {a.provider}/{a.account})"
    if a.group is not None and a.account is None:
        return f"pool {a.group} ({a.provider})"
    return f"account {a.account} ({a.provider})"


def _share_of_cap(a: Advice) -> str:
    """The projection as a share of the cap ("-" without a projection or a cap)."""
    return percent(a.projected / a.cap if a.projected is not None and a.cap else None)


def _projection(a: Advice) -> str:
    where = {"period end": "by the period's end", "horizon": "within the planning horizon"}
    return (
        f"{_name(a)} is projected to reach {_of(a, a.projected)} "
        f"({_share_of_cap(a)}) "
        f"{where.get(a.projected_from, 'now')}"
    )


def advice_text(a: Advice, target: float) -> str:
    """One paragraph: what to do, by when, and why."""
    when = f" before {utc_minute(a.act_by)}" if a.act_by is not None else ""
    full = f"; first shard full at {utc_minute(a.exhausts_at)}" if a.exhausts_at else ""
    hot = f" Hot shard: {a.hot_shard}." if a.hot_shard else ""
    if a.kind == "split" and a.account is None:
        extra = a.recommended - a.shards
        caution = f" Check the terms first: {a.policy_caution}." if a.policy_caution else ""
        return (
            f"{_sentence(_subject(a))}: add {extra} shard account{'s' if extra > 1 else ''}"
            f"{when} ({a.shards} -> {a.recommended}). {_projection(a)}{full}; "
            f"{a.recommended} shards keep each at {percent(target)} of its cap. "
            f"Binding limit: {_name(a)}.{hot}{caution}"
        )
    if a.kind == "split":
        caution = f" Check the terms first: {a.policy_caution}." if a.policy_caution else ""
        return (
            f"{_sentence(_subject(a))}: split the workload over {a.recommended} accounts"
            f"{when} (a pool: give them one `group`). {_projection(a)}"
            f"{'; full at ' + utc_minute(a.exhausts_at) if a.exhausts_at else ''}.{caution}"
        )
    if a.kind == "upgrade":
        target_text = "the pool" if a.account is None else "the account"
        return (
            f"{_sentence(_subject(a))}: upgrade {target_text} to a paid plan or reduce usage"
            f"{when}; more free accounts are not advised because {a.policy_reason}. "
            f"{_projection(a)}{full}.{hot}"
        )
    if a.kind == "rebalance":
        cool = ", ".join(a.cool_shards) or "the other shards"
        return (
            f"{_sentence(_subject(a))}: move load from {a.hot_shard} to {cool}. "
            f"{a.hot_shard}'s {_name(a)} is projected at {_of(a, a.projected)} "
            f"({_share_of_cap(a)})"
            f"{'; full at ' + utc_minute(a.exhausts_at) if a.exhausts_at else ''}, "
            "while the pool has room."
        )
    if a.kind == "archive" and a.cap is not None and a.value >= a.cap:
        return (
            f"{_sentence(_subject(a))}: at {_of(a, a.value)}"
            f"{', full since ' + utc_minute(a.exhausts_at) if a.exhausts_at else ''}; split it or "
            "archive old data."
        )
    if a.kind == "archive":
        return (
            f"{_sentence(_subject(a))}: will hit {_amount(a, a.cap)}"
            f"{' at ' + utc_minute(a.exhausts_at) if a.exhausts_at else ''}; split it or archive "
            f"old data. Now {_amount(a, a.value)}, projected {_amount(a, a.projected)}."
        )
    if a.kind == "consolidate":
        return (
            f"{_sentence(_subject(a))}: could lose a shard: the projected peak of "
            f"{_name(a)} fits in {a.recommended} shards at {percent(target)} of the cap "
            f"({a.shards} now)."
        )
    return f"{_sentence(_subject(a))}: nothing to do ({a.shards} shards are enough)."


_HEADER = ("LIMIT", "USED", "CAP", "USE%", "PROJECTED", "PROJ%", "NEED", "HOTTEST", "HEADROOM")
"""The markdown table's headers."""


def _limit_cells(p: PoolLimit, mark: str) -> tuple[str, ...]:
    hottest = "balanced"
    if p.hottest is not None and p.imbalance is not None and p.imbalance >= HOT_IMBALANCE:
        hottest = f"{p.hottest} ({p.imbalance:.2f}x)"
    headroom = format_days(p.headroom_days)
    if p.headroom_days is None and p.projected_from == "period end":
        headroom = "resets first"
    cap = _amount(p, p.total_cap)
    return (
        mark + p.limit,
        without_display_unit(_amount(p, p.total_value), cap, p.display_unit),
        cap,
        percent(p.utilization),
        without_display_unit(_amount(p, p.projected_peak), cap, p.display_unit),
        percent(p.projected_utilization),
        str(p.recommended),
        hottest,
        headroom,
    )


def _pool_heading(pool: PoolPlan) -> str:
    need = pool.recommended
    verdict = f"needs {need} shards" if need > pool.shards else "enough shards"
    return (
        f"Pool {pool.group} ({pool.provider}, {pool.shards} shards: {', '.join(pool.accounts)})"
        f" - {verdict}"
    )


_COLUMNS = (
    Column("limit", "LIMIT"),
    Column("used", "USED", right=True, wrap=True),
    Column("cap", "CAP", right=True, wrap=True),
    Column("use", "USE%", right=True, drop=4),
    Column("projected", "PROJECTED", right=True, wrap=True, drop=3),
    Column("proj", "PROJ%", right=True),
    Column("need", "NEED", right=True),
    Column("hottest", "HOTTEST", wrap=True, drop=2),
    Column("headroom", "HEADROOM", right=True, wrap=True, drop=1),
)
"""The pool table's columns (the cells of _limit_cells, in order); a narrow terminal drops
USE% first, then PROJECTED (PROJ% stays), HOTTEST and HEADROOM."""


def _hidden_note(hidden: int) -> str:
    return (
        f"{hidden} more limit{'s' if hidden > 1 else ''} projected under {percent(SHOWN_FROM)} "
        "(--all shows them)"
    )


def plan_to_text(
    plan: Plan, *, show_all: bool = False, width: int | None = None, colour: bool = False
) -> str:
    """The plan for the terminal (fitted to `width`, the terminal's when None; in colour when
    `colour`): a table per pool (riskiest limits first), then the advice, each paragraph
    wrapped with a hanging indent."""
    screen = Screen(width=width, colour=colour)
    for pool in plan.pools:
        screen.paragraph(_pool_heading(pool), rest="  ", style="bold")
        shown, hidden = shown_limits(pool, show_all)
        if shown:
            rows = [
                TableRow(
                    dict(
                        zip(
                            (c.key for c in _COLUMNS),
                            _limit_cells(p, "* " if p is pool.binding else "  "),
                            strict=True,
                        )
                    )
                )
                for p in shown
            ]
            screen.table(_COLUMNS, rows, indent=2)
            if hidden:
                screen.paragraph(_hidden_note(hidden), first="  ... ", rest="      ")
        else:
            screen.line("  (no readings with a cap yet)")
        screen.line()
    if not plan.pools:
        screen.paragraph("No shard pools configured (accounts sharing a `group` form one).")
        screen.line()
    advice = all_advice(plan)
    if plan.pools:
        screen.paragraph(
            "* binding limit (needs the most shards); NEED = shards recommended",
            first="  ",
            rest="    ",
        )
        screen.line()
    screen.paragraph(
        f"Advice (target utilization {percent(plan.target_utilization)} per shard):",
        style="bold",
    )
    if not advice:
        screen.paragraph(
            "nothing to do: no pool needs a shard and nothing is projected to fill up.",
            first="  ",
            rest="  ",
        )
    for a in advice:
        screen.paragraph(advice_text(a, plan.target_utilization), first="  - ", rest="    ")
    return screen.text()


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").strip()


def plan_to_markdown(plan: Plan, *, show_all: bool = False) -> str:
    """The plan as GitHub-flavoured markdown (pastes into an issue or a chat)."""
    out = [f"## Shard plan ({utc_minute(plan.now)})", ""]
    for pool in plan.pools:
        out.append(f"### {_md_cell(_pool_heading(pool))}")
        out.append("")
        shown, hidden = shown_limits(pool, show_all)
        if not shown:
            out.extend(["No readings with a cap yet.", ""])
            continue
        out.append("| " + " | ".join(h.title() for h in _HEADER) + " |")
        out.append("|" + "|".join(["---"] + ["---:"] * 6 + ["---", "---:"]) + "|")
        for p in shown:
            cells = [_md_cell(c) for c in _limit_cells(p, "")]
            if p is pool.binding:
                cells[0] = f"**{cells[0]}** (binding)"
            out.append("| " + " | ".join(cells) + " |")
        if hidden:
            out.extend(["", _sentence(_hidden_note(hidden)) + "."])
        out.append("")
    out.append(f"### Advice (target utilization {percent(plan.target_utilization)} per shard)")
    out.append("")
    advice = all_advice(plan)
    if not advice:
        out.append("Nothing to do.")
    out.extend(f"- {_md_cell(advice_text(a, plan.target_utilization))}" for a in advice)
    return "\n".join(out)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_z(value.astimezone(UTC))
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _advice_json(a: Advice, target: float) -> dict[str, Any]:
    data = asdict(a)
    data["text"] = advice_text(a, target)
    return dict(_jsonable(data))


def plan_to_json(plan: Plan) -> str:
    """The plan as one JSON object: pools (with limits and shards) and advice."""
    pools = []
    for pool in plan.pools:
        limits = []
        for p in pool.limits:
            data = asdict(p)
            data["utilization"] = p.utilization
            data["projected_utilization"] = p.projected_utilization
            data["binding"] = p is pool.binding
            limits.append(_jsonable(data))
        pools.append(
            {
                "provider": pool.provider,
                "group": pool.group,
                "accounts": list(pool.accounts),
                "shards": pool.shards,
                "recommended": pool.recommended,
                "binding_limit": pool.binding.limit if pool.binding else None,
                "limits": limits,
                "advice": _advice_json(pool.advice, plan.target_utilization),
            }
        )
    document = {
        "generated_at": _jsonable(plan.now),
        "target_utilization": plan.target_utilization,
        "pools": pools,
        "advice": [_advice_json(a, plan.target_utilization) for a in plan.advice],
    }
    return json.dumps(document, indent=2)
