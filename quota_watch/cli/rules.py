"""`quota-watch rules`: replay a series through the rules, export them for Prometheus."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from quota_watch.cli.common import EXIT_CONFIG, ConfigOption, fail, load_optional

if TYPE_CHECKING:
    from quota_watch.config.settings import Config
    from quota_watch.engine.replay import ReplayResult

app = typer.Typer(help="The alert rules.", no_args_is_help=True)


@app.command(
    "test",
    epilog="Examples:\n\n"
    "  quota-watch rules test rules/examples/month_daily.toml\n\n"
    "  quota-watch rules test usage.csv --unit bytes --measure level --cap '500 MB'\n\n"
    "  quota-watch rules test bw.csv --unit bytes --measure cumulative --cap '100 GB' "
    "--period billing_cycle --anchor-day 17 --tz America/Los_Angeles",
)
def rules_test(
    path: Annotated[Path, typer.Argument(help="Series file: TOML, or CSV with ts,value.")],
    unit: Annotated[str | None, typer.Option(help="CSV: bytes, seconds or count.")] = None,
    measure: Annotated[str | None, typer.Option(help="CSV: cumulative or level.")] = None,
    period: Annotated[str | None, typer.Option(help="CSV: daily, calendar_month, ...")] = None,
    cap: Annotated[str | None, typer.Option(help="CSV: the cap, e.g. '500 MB'.")] = None,
    anchor_day: Annotated[
        int | None, typer.Option(help="CSV: the billing cycle's anchor day (1-31).")
    ] = None,
    tz: Annotated[
        str | None, typer.Option(help="CSV: the period's time zone, e.g. America/Los_Angeles.")
    ] = None,
    messages: Annotated[
        bool, typer.Option("--messages/--no-messages", help="Print each message's text.")
    ] = True,
    config: ConfigOption = None,
) -> None:
    """Replay a series through the rules; print the alerts and messages they would send."""
    from quota_watch.config.errors import ConfigError
    from quota_watch.engine.replay import load_series, replay
    from quota_watch.engine.rulepack import load_rule_pack

    cfg = load_optional(config)
    given: dict[str, object] = {"unit": unit, "measure": measure, "period": period, "cap": cap}
    if anchor_day is not None or tz is not None:
        where = {"kind": period, "anchor_day": anchor_day, "tz": tz}
        given["period"] = {k: v for k, v in where.items() if v is not None}
    meta = {k: v for k, v in given.items() if v is not None}
    try:
        series = load_series(path, **meta)
        pack = load_rule_pack(cfg.settings.alerts.rule_pack if cfg else None)
    except ConfigError as exc:
        fail(["cannot replay:", *(f"  {e}" for e in exc.errors)], 2)
    result = replay(series, pack, cfg.settings.rules if cfg else ())
    _print_replay(result, messages=messages, horizon=pack.forecast.horizon)


def _print_replay(result: ReplayResult, *, messages: bool, horizon: timedelta) -> None:
    from quota_watch.engine.replay import forecast_leads
    from quota_watch.notify.templates import render
    from quota_watch.units import exact_span

    for error in result.errors:
        typer.echo(f"rules: {error}", err=True)
    for t in result.transitions:
        title, text, _ = render(
            t.kind, t.state, t.at, resets_at=t.state.period_end, horizon=horizon
        )
        typer.echo(f"{t.at.isoformat(timespec='minutes')}  {t.kind:<12} {title}")
        if messages:
            typer.echo("".join(f"    {line}\n" for line in text.splitlines()))
    typer.echo(f"{len(result.transitions)} transitions")
    for start, lead in forecast_leads(result.transitions):
        period = "" if start is None else f" (period from {start:%Y-%m-%d %H:%M %Z})"
        said = f"{exact_span(lead)} {'before' if lead >= timedelta() else 'after'}"
        typer.echo(f"forecast warning{period}: {said} the threshold warning")


@app.command(
    "export",
    epilog="Examples:\n\n"
    "  quota-watch rules export\n\n"
    "  quota-watch rules export --check\n\n"
    "  quota-watch rules export -o /etc/prometheus/rules -c /etc/quota-watch/config.toml",
)
def rules_export(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Directory for quota-watch.rules.yml (default: rules/prometheus/ of the "
            "source checkout); '-' prints it.",
            file_okay=False,
        ),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 if the file differs.")
    ] = False,
    runbook_url_base: Annotated[
        str, typer.Option(help="Runbook URL the alerts' runbook_url anchors are appended to.")
    ] = "https://github.com/quota-watch/quota-watch/blob/main/docs/runbook.md",
    job: Annotated[
        str,
        typer.Option(
            metavar="JOB", help="Prometheus scrape job of the daemon (the meta alerts' `up`)."
        ),
    ] = "quota-watch",
    config: ConfigOption = None,
) -> None:
    """Write the Prometheus alerting rules generated from the rule pack (same alert names,
    thresholds and severities as the built-in engine) and the alerts on the daemon itself. With
    --config: that config's rule pack, polling.interval and each account's own interval."""
    from quota_watch.prometheus.rules import RULES_FILE, default_output_dir

    text = _rule_file(load_optional(config), runbook_url_base, job)
    if output == Path("-"):
        if check:
            fail("--check compares with a file: give a directory with --output", 2)
        typer.echo(text, nl=False)
        return
    directory = output or default_output_dir()
    if directory is None:
        fail("not a source checkout: give the directory with --output", 2)
    target = directory / RULES_FILE
    if check:
        _check(target, text)
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"{target}: cannot write: {exc.strerror}", 1)
    typer.echo(f"wrote {target}")


def _rule_file(cfg: Config | None, runbook_url_base: str, job: str) -> str:
    """The rule file of `cfg`'s rule pack and poll intervals (the defaults without one)."""
    from quota_watch.config.errors import ConfigError
    from quota_watch.config.settings import PollingSettings
    from quota_watch.engine.rulepack import default_pack_path, load_rule_pack
    from quota_watch.prometheus.rules import render_rule_file

    pack_path = cfg.settings.alerts.rule_pack if cfg else None
    try:
        pack = load_rule_pack(pack_path)
    except ConfigError as exc:
        fail(["cannot load the rule pack:", *(f"  {e}" for e in exc.errors)], EXIT_CONFIG)
    shipped = pack_path is None or pack_path == default_pack_path()
    return render_rule_file(
        pack,
        interval=cfg.settings.polling.interval if cfg else PollingSettings().interval,
        account_intervals=[
            account.interval
            for account in (cfg.settings.accounts if cfg else ())
            if account.enabled and account.interval is not None
        ],
        job=job,
        runbook_url_base=runbook_url_base,
        source="rules/default.toml" if shipped else str(pack_path),
    )


def _check(target: Path, text: str) -> None:
    """Exit 1 unless `target` holds `text`."""
    try:
        current = target.read_text(encoding="utf-8")
    except OSError:
        fail(f"{target}: missing; run `quota-watch rules export`", 1)
    if current != text:
        fail(f"{target}: differs from the export; run `quota-watch rules export`", 1)
    typer.echo(f"{target}: up to date")
