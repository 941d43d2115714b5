"""`quota-watch collectors list`: the installed collectors and their limits."""

from __future__ import annotations

import json
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
    from quota_watch.collect.listing import describe, describe_lines
    from quota_watch.collect.registry import RegistryError, discover

    try:
        infos = discover()
    except RegistryError as exc:
        fail(["collector errors:", *(f"  {e}" for e in exc.errors)], 1)
    if fmt is OutputFormat.json:
        typer.echo(json.dumps([describe(info) for info in infos.values()], indent=2))
        return
    for info in infos.values():
        for line in describe_lines(info):
            typer.echo(line)
