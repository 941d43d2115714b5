"""`quota-watch collect --once`: poll now and print the readings."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from quota_watch.cli.common import ConfigOption, OutputFormat, fail, load, run_async, setup_logging

app = typer.Typer()


@app.command(
    epilog="Examples:\n\n"
    "  quota-watch collect --once\n\n"
    "  quota-watch collect --once --account cf-main --format json"
)
def collect(
    once: Annotated[bool, typer.Option("--once", help="Poll once now (required).")] = False,
    account: Annotated[
        list[str] | None, typer.Option("--account", "-a", help="Only this account (repeatable).")
    ] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.table,
    config: ConfigOption = None,
) -> None:
    """Poll accounts now, store the readings and print them."""
    if not once:
        fail("collect polls once: pass --once (use `quota-watch run` to poll on a schedule)", 2)
    cfg = load(config)
    setup_logging(cfg, "warning")
    names = list(account or [a.name for a in cfg.accounts if a.enabled])
    unknown = [n for n in names if n not in {a.name for a in cfg.accounts}]
    if unknown:
        known = ", ".join(a.name for a in cfg.accounts) or "none"
        fail(f"unknown account(s): {', '.join(unknown)} (configured: {known})", 2)

    from quota_watch.collect.once import collect_once
    from quota_watch.reporting import command
    from quota_watch.reporting.entries import Entry
    from quota_watch.reporting.render import to_table
    from quota_watch.status.rows import COLLECT_KEYS, make_row, sort_rows, to_json

    results = run_async(lambda: collect_once(cfg, names))
    displays = command.display_units(command.account_runtimes(cfg, lambda a: a.name in names))
    rows = sort_rows(
        make_row(r, display_unit=displays.get((r.account, r.limit)))
        for result in results
        for r in result.readings
    )
    if fmt is OutputFormat.json:
        typer.echo(to_json(rows, COLLECT_KEYS))
    else:
        groups = {a.name: a.group for a in cfg.accounts}
        entries = [Entry(row, groups.get(row.account), ()) for row in rows]
        colour = command.wants_colour(sys.stdout.isatty(), os.environ)
        typer.echo(to_table(entries, datetime.now(UTC), colour=colour))
    for result in results:
        if result.outcome != "success":
            typer.echo(f"{result.account}: {result.outcome}: {result.error}", err=True)
    if any(r.outcome not in ("success", "no_data") for r in results):
        raise typer.Exit(1)
