"""The root `quota-watch` command: composes the command groups; `main` is the entry point."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from quota_watch import __version__
from quota_watch.cli.account import app as account_app
from quota_watch.cli.cluster import app as cluster_app
from quota_watch.cli.collect import app as collect_app
from quota_watch.cli.collectors import app as collectors_app
from quota_watch.cli.completion import app as completion_app
from quota_watch.cli.config import app as config_app
from quota_watch.cli.dashboards import app as dashboards_app
from quota_watch.cli.db import app as db_app
from quota_watch.cli.notify import app as notify_app
from quota_watch.cli.plan import app as plan_app
from quota_watch.cli.report import app as report_app
from quota_watch.cli.rules import app as rules_app
from quota_watch.cli.run import app as run_app
from quota_watch.cli.setvalue import app as setvalue_app
from quota_watch.cli.silence import app as silence_app

app = typer.Typer(
    name="quota-watch",
    help="Free-tier usage monitor: polls provider usage APIs, stores and exports the figures.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
# Unnamed groups add their commands at the top level; the order here is the order of --help.
app.add_typer(run_app)
app.add_typer(collect_app)
app.add_typer(report_app)
app.add_typer(plan_app)
app.add_typer(setvalue_app)
app.add_typer(collectors_app, name="collectors")
app.add_typer(notify_app, name="notify")
app.add_typer(silence_app, name="silence")
app.add_typer(account_app, name="account")
app.add_typer(rules_app, name="rules")
app.add_typer(dashboards_app, name="dashboards")
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(cluster_app, name="cluster")
app.add_typer(completion_app)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"quota-watch {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Free-tier usage monitor: polls provider usage APIs, stores and exports the figures."""
    from quota_watch.cli.metavars import conform

    conform(ctx.command)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
