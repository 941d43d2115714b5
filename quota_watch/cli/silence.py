"""`quota-watch silence`: add, list and remove silences."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from quota_watch.cli.common import ConfigOption, fail, load, run_async

app = typer.Typer(help="Mute matching alerts for a while.", no_args_is_help=True)


@app.command(
    "add",
    epilog="Examples:\n\n"
    "  quota-watch silence add --match provider=cloudflare,limit=kv_writes \\\n"
    '      --for 24h --reason "migration"\n\n'
    '  quota-watch silence add --match account=host --for 2h --reason "disk resize"',
)
def silence_add(
    match: Annotated[
        str,
        typer.Option(
            "--match",
            "-m",
            help="key=value[,key=value]: provider, account, "
            "limit, resource, group, alertname, kind",
        ),
    ],
    duration: Annotated[str, typer.Option("--for", help="How long, e.g. 30m, 24h, 7d.")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (shown in the list).")],
    config: ConfigOption = None,
) -> None:
    """Mute matching alerts: they stay in report and metrics but send nothing until expiry."""
    from quota_watch.notify.silences import add_silence, new_silence, parse_matchers
    from quota_watch.sdk import parse_duration

    try:
        matchers = parse_matchers(match)
    except ValueError as exc:
        fail(f"--match: {exc}", 2)
    try:
        length = parse_duration(duration)
    except ValueError as exc:
        fail(f"--for: {exc}", 2)
    if not reason.strip():
        fail("--reason: say why", 2)
    cfg = load(config)
    silence = new_silence(matchers, length, reason.strip(), datetime.now(UTC))
    added = run_async(lambda: add_silence(cfg.store_url(), silence))
    typer.echo(f"silence {added.id} until {added.ends_at.isoformat(timespec='minutes')}")


@app.command(
    "list", epilog="Examples:\n\n  quota-watch silence list\n\n  quota-watch silence list --all"
)
def silence_list(
    show_all: Annotated[bool, typer.Option("--all", help="Include expired silences.")] = False,
    config: ConfigOption = None,
) -> None:
    """List silences in force (and expired ones with --all)."""
    from quota_watch.notify.silences import list_silences, silence_state

    cfg = load(config)
    now = datetime.now(UTC)
    silences = run_async(lambda: list_silences(cfg.store_url(), now, include_expired=show_all))
    if not silences:
        typer.echo("no silences")
        return
    for s in silences:
        matchers = ",".join(f"{k}={v}" for k, v in sorted(s.matchers.items()))
        until = s.ends_at.isoformat(timespec="minutes")
        typer.echo(
            f"{s.id:>4}  {silence_state(s, now):<7}  until {until}  {matchers}  "
            f"({s.created_by}: {s.reason})"
        )


@app.command("remove", epilog="Examples:\n\n  quota-watch silence remove 3")
def silence_remove(
    silence_id: Annotated[int, typer.Argument(help="The silence's ID (see `silence list`).")],
    config: ConfigOption = None,
) -> None:
    """End a silence now."""
    from quota_watch.notify.silences import remove_silence

    cfg = load(config)
    if not run_async(lambda: remove_silence(cfg.store_url(), silence_id)):
        fail(f"no silence with ID {silence_id}", 1)
    typer.echo(f"silence {silence_id} removed")
