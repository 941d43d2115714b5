"""The root `quota-watch` command: its options and lazily built subcommands (quota_watch.cli.lazy);
`main` is the entry point."""

from __future__ import annotations

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


def _print_version(value: bool) -> None:
    if value:
        from quota_watch import __version__

        typer.echo(f"quota-watch {__version__}")
        raise typer.Exit()


@app.callback()
def root(
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


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
