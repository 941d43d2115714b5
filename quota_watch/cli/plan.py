"""`quota-watch plan`: shard pools and split advice."""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from typing import Annotated

import typer

from quota_watch.cli.common import (
    EXIT_CONFIG,
    ConfigOption,
    fail,
    load,
    require_database,
    run_read,
    setup_logging,
)

app = typer.Typer()


class PlanFormat(StrEnum):
    """Output formats of plan."""

    table = "table"
    json = "json"
    markdown = "markdown"


@app.command(
    epilog="Examples:\n\n"
    "  quota-watch plan                     # every pool, then advice for everything else\n\n"
    "  quota-watch plan --group edge --format markdown\n\n"
    "  quota-watch plan --format json | jq '.pools[] | {group, shards, recommended}'"
)
def plan(
    group: Annotated[
        list[str] | None,
        typer.Option("--group", "-g", help="Only this pool (repeatable).", show_default=False),
    ] = None,
    fmt: Annotated[PlanFormat, typer.Option("--format", "-f")] = PlanFormat.table,
    show_all: Annotated[
        bool, typer.Option("--all", help="List every limit of a pool, not only the risky ones.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Shard pools and split advice: how many shards each pool needs, which limit binds, by
    when to act, which shard is hot; nothing is ever changed on the provider's side."""
    cfg = load(config, lambda every: {a.name for a in every if not group or a.group in group})
    setup_logging(cfg, "warning")
    known = sorted({a.group for a in cfg.settings.accounts if a.group is not None})
    unknown = sorted(set(group or ()) - set(known))
    if unknown:
        fail(
            f"--group: no pool named {', '.join(map(repr, unknown))} "
            f"(configured pools: {', '.join(known) or 'none'})",
            EXIT_CONFIG,
        )
    url = cfg.store_url()
    if url.startswith("sqlite"):
        require_database(url, "readings")
    from quota_watch.engine.rulepack import load_rule_pack
    from quota_watch.reporting import command
    from quota_watch.reporting.plan import plan_to_json, plan_to_markdown, plan_to_text
    from quota_watch.status.plan import build_plan

    runtimes = command.account_runtimes(cfg, lambda a: not group or a.group in group)
    pack = load_rule_pack(cfg.settings.alerts.rule_pack)
    now = command.utcnow()
    positions = run_read(url, lambda: command.read_positions(url, cfg, runtimes, now))
    result = build_plan(positions, runtimes, pack, now)
    if fmt is PlanFormat.json:
        typer.echo(plan_to_json(result))
    elif fmt is PlanFormat.markdown:
        typer.echo(plan_to_markdown(result, show_all=show_all))
    else:
        colour = command.wants_colour(sys.stdout.isatty(), os.environ)
        typer.echo(plan_to_text(result, show_all=show_all, colour=colour))
