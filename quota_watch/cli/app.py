"""The root `quota-watch` command: its options and lazily built subcommands (quota_watch.cli.lazy);
`main` is the entry point."""

from __future__ import annotations

import gc
import sys
from typing import Annotated

import typer

from quota_watch.cli.lazy import LazyGroup

app = typer.Typer(
    name="quota-watch",
    help="Free-tier usage monitor: polls provider usage APIs, stores and exports the figures.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    cls=LazyGroup,  # each command is imported and built when it is used
    context_settings={"help_option_names": ["-h", "--help"]},
)


SHORT_READS = frozenset({"report", "history", "plan"})
"""Commands that read the store, print and exit: they run without the cyclic garbage
collector, which `main` turns off at start (their garbage is small and freed at exit)."""


def _print_version(value: bool) -> None:
    if value:
        from quota_watch import __version__

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
    if ctx.invoked_subcommand not in SHORT_READS:
        gc.enable()  # everything else, the daemon above all, runs with it as usual


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
