"""`quota-watch set`: enter a limit's value by hand (manual accounts)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from quota_watch.cli.common import EXIT_CONFIG, ConfigOption, fail, load, run_async

app = typer.Typer()


@app.command(
    "set",
    epilog="Examples:\n\n"
    "  quota-watch set render bandwidth '62 GB'\n\n"
    "  quota-watch set render build_minutes 310 --cap 500\n\n"
    "  quota-watch set momento cache_storage 1.2GB --resource sessions",
)
def set_value(
    account: Annotated[str, typer.Argument(help="A `manual` account.")],
    limit: Annotated[str, typer.Argument(help="One of the account's declared limits.")],
    value: Annotated[
        str, typer.Argument(help="The used amount: a number in the limit's unit or '62 GB'.")
    ],
    cap: Annotated[
        str | None, typer.Option("--cap", help="The cap, if the service states it.")
    ] = None,
    resource: Annotated[
        str | None, typer.Option("--resource", "-r", help="The resource (per-resource limits).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Set a limit's current value by hand: stored as a sample, so it shows in the report, the
    status page and the pool plan, and polls report it until the period ends or it is set
    again."""
    from quota_watch.collect.setvalue import SetRefused, prepare_set, store_set_value
    from quota_watch.units import human

    cfg = load(config)
    try:
        rt, checked = prepare_set(
            cfg, account, limit, value, cap=cap, resource=resource, now=datetime.now(UTC)
        )
    except SetRefused as exc:
        fail(str(exc), EXIT_CONFIG)
    result = run_async(lambda: store_set_value(cfg, rt, checked))
    if result.outcome != "success":
        fail(f"{account}: {result.outcome}: {result.error}", 1)
    stored = next(
        r for r in result.readings if (r.limit, r.resource) == (checked.limit, checked.resource)
    )
    name = limit if stored.resource is None else f"{limit} [{stored.resource}]"
    shown_cap = "no cap" if stored.cap is None else f"cap {human(stored.cap, stored.unit)}"
    typer.echo(f"{account} {name} = {human(stored.value, stored.unit)} ({shown_cap})")
