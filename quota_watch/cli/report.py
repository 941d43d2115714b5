"""`quota-watch report` and `quota-watch history`: read the store, never write it."""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from typing import Annotated, Any

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


class ReportFormat(StrEnum):
    """Output formats of report."""

    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


class FailOn(StrEnum):
    """Levels of report --fail-on."""

    warning = "warning"
    critical = "critical"


class HistoryFormat(StrEnum):
    """Output formats of history."""

    table = "table"
    csv = "csv"


_FILTER = "(repeatable, or a comma list)"


def _filter(name: str, short: str, metavar: str, what: str) -> Any:
    return typer.Option(name, short, metavar=metavar, help=f"Only this {what} {_FILTER}.")


@app.command(
    epilog="Examples:\n\n"
    "  quota-watch report\n\n"
    "  quota-watch report --status critical,warning --group edge\n\n"
    "  quota-watch report --format markdown > status.md\n\n"
    "  quota-watch report --format json | jq '.[0]'\n\n"
    "  quota-watch report --fail-on critical || echo 'a quota is full'\n\n"
    "Exit codes: 0 the report was shown (and, with --fail-on, no shown row is at that "
    "level); 1 a shown row is at or above the --fail-on level (warning also counts critical "
    "and stale), or the store cannot be read; 2 bad input (an unknown filter value, a bad "
    "config)."
)
def report(
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f")] = ReportFormat.table,
    provider: Annotated[
        list[str] | None, _filter("--provider", "-p", "PROVIDER", "provider")
    ] = None,
    account: Annotated[list[str] | None, _filter("--account", "-a", "ACCOUNT", "account")] = None,
    group: Annotated[list[str] | None, _filter("--group", "-g", "POOL", "pool")] = None,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            "-s",
            metavar="STATUS",
            help=f"Only rows with this status: ok, warning, critical, stale, unknown {_FILTER}.",
        ),
    ] = None,
    fail_on: Annotated[
        FailOn | None,
        typer.Option("--fail-on", help="Exit 1 when a shown row is at or above this level."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Every limit of every configured account, grouped by account, riskiest first: a usage
    bar, value / cap, utilization, forecast, time to reset and to exhaustion, the last 15 days
    and the cap's source. Reads the store read-only, so it runs safely beside the daemon."""
    from quota_watch.reporting import command

    cfg = load(config, command.report_scope(provider, account, group))
    setup_logging(cfg, "warning")
    from quota_watch.reporting.entries import fails, only_statuses

    try:
        request = command.report_request(cfg, provider, account, group, status)
    except command.ReportError as exc:
        fail(str(exc), EXIT_CONFIG)
    url = cfg.store_url()
    require_database(url, "readings")
    runtimes = command.account_runtimes(cfg, request.selects)
    others = command.pool_runtimes(cfg, runtimes)
    now = command.utcnow()
    found, advice = run_read(url, lambda: command.read_report(url, cfg, runtimes, others, now))
    entries = only_statuses(found, request.statuses)
    colour = command.wants_colour(sys.stdout.isatty(), os.environ)
    text = command.render(fmt.value, entries, now, advice, colour=colour)
    typer.echo(text, nl=not text.endswith("\n"))
    if fails(entries, fail_on.value if fail_on else None):
        raise typer.Exit(1)


@app.command(
    epilog="Examples:\n\n"
    "  quota-watch history --account cf-main --limit workers_requests\n\n"
    "  quota-watch history -a gh -l actions_minutes --days 60\n\n"
    "  quota-watch history -a cf-main -l r2_storage -r my-bucket --format csv > r2.csv\n\n"
    "Exit codes: 0 shown; 1 the store cannot be read; 2 bad input (an unknown account, limit "
    "or resource: the message lists the known ones)."
)
def history(
    account: Annotated[
        str, typer.Option("--account", "-a", metavar="ACCOUNT", help="The account.")
    ],
    limit: Annotated[str, typer.Option("--limit", "-l", metavar="LIMIT", help="The limit.")],
    resource: Annotated[
        str | None,
        typer.Option(
            "--resource", "-r", metavar="RESOURCE", help="The resource, for per-resource limits."
        ),
    ] = None,
    days: Annotated[
        int, typer.Option("--days", "-d", min=1, max=3660, help="Days back, today included.")
    ] = 14,
    fmt: Annotated[HistoryFormat, typer.Option("--format", "-f")] = HistoryFormat.table,
    config: ConfigOption = None,
) -> None:
    """One series' stored history by UTC day (min, max, last, samples, a sparkline of the
    hourly maxima), or every stored row (daily and hourly rollups, raw samples) as CSV."""
    cfg = load(config, lambda _every: {account})
    setup_logging(cfg, "warning")
    from quota_watch.reporting import command
    from quota_watch.reporting.history import HistoryError, to_csv, to_table

    url = cfg.store_url()
    require_database(url, "history")
    now = command.utcnow()
    try:
        known = {a.name for a in cfg.settings.accounts}
        runtimes = (
            command.account_runtimes(cfg, lambda a: a.name == account) if account in known else {}
        )
        display = command.display_units(runtimes).get((account, limit))
        found = run_read(
            url, lambda: command.read_history(url, account, limit, resource, days, now, display)
        )
    except HistoryError as exc:
        fail(str(exc), EXIT_CONFIG)
    if fmt is HistoryFormat.csv:
        typer.echo(to_csv(found), nl=False)
    else:
        colour = command.wants_colour(sys.stdout.isatty(), os.environ)
        typer.echo(to_table(found, colour=colour))
