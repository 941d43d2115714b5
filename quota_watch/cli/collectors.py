"""`quota-watch collectors list`: the installed collectors and their limits."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated

import typer

from quota_watch.cli.common import OutputFormat, fail

app = typer.Typer(help="Installed collectors.", no_args_is_help=True)


@app.command(
    "list",
    epilog="Examples:\n\n  quota-watch collectors list\n\n  quota-watch collectors list -f json",
)
def collectors_list(
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.table,
) -> None:
    """List installed collectors with their limits."""
    from quota_watch.collect.listing import describe
    from quota_watch.collect.registry import RegistryError, discover
    from quota_watch.reporting.collectors import describe_text

    try:
        infos = discover()
    except RegistryError as exc:
        fail(["collector errors:", *(f"  {e}" for e in exc.errors)], 1)
    if fmt is OutputFormat.json:
        typer.echo(json.dumps([describe(info) for info in infos.values()], indent=2))
        return
    from quota_watch.reporting.command import wants_colour

    colour = wants_colour(sys.stdout.isatty(), os.environ)
    typer.echo(describe_text(infos.values(), colour=colour))
