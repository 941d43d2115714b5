"""`quota-watch cluster`: several daemons on one PostgreSQL store."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from quota_watch.cli.common import ConfigOption, fail, load, run_async

app = typer.Typer(help="Several daemons sharing one PostgreSQL store.", no_args_is_help=True)


@app.command(
    "status", epilog="Examples:\n\n  quota-watch cluster status -c /etc/quota-watch/config.toml"
)
def cluster_status(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the members, the accounts each one holds, and the age of their leases."""
    cfg = load(config)
    if not cfg.settings.cluster.enabled:
        fail("cluster.enabled is false in this config: one daemon polls every account", 2)
    from quota_watch.cluster.member import cluster_params
    from quota_watch.cluster.status import read_status, render_status

    params = cluster_params(cfg)
    status = run_async(lambda: read_status(cfg.store_url(), params.lease))
    if as_json:
        typer.echo(json.dumps(status.to_json(), indent=2))
    else:
        typer.echo(render_status(status))
