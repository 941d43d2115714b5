"""The command line: run, collect, report, collectors, config, db."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from quota_watch.settings import Config

T = TypeVar("T")

EXIT_CONFIG = 2

app = typer.Typer(
    name="quota-watch",
    help="Free-tier usage monitor: polls provider usage APIs, stores and exports the figures.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
collectors_app = typer.Typer(help="Installed collectors.", no_args_is_help=True)
config_app = typer.Typer(help="Check or show the configuration.", no_args_is_help=True)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(collectors_app, name="collectors")
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file (default: $QUOTA_WATCH_CONFIG, ./quota-watch.toml, "
        "$XDG_CONFIG_HOME/quota-watch/config.toml, /etc/quota-watch/config.toml, "
        "else the embedded default: the host collector only).",
        dir_okay=False,
    ),
]


class OutputFormat(StrEnum):
    """Output formats of collect and report."""

    table = "table"
    json = "json"


def _fail(lines: list[str] | str, code: int) -> NoReturn:
    for line in [lines] if isinstance(lines, str) else lines:
        typer.echo(line, err=True)
    raise typer.Exit(code)


def _load(config_path: Path | None) -> Config:
    from quota_watch.errors import ConfigError
    from quota_watch.settings import load_config

    try:
        return load_config(config_path)
    except ConfigError as exc:
        _fail(["configuration error:", *(f"  {e}" for e in exc.errors)], EXIT_CONFIG)


def _logging(config: Config, level: str | None = None) -> None:
    from quota_watch.logs import setup_logging

    setup_logging(level or config.settings.logging.level, config.settings.logging.format)


def _run_async(coro_fn: Callable[[], Awaitable[T]]) -> T:
    from quota_watch.store import StoreError

    async def wrapped() -> T:
        return await coro_fn()

    try:
        return asyncio.run(wrapped())
    except StoreError as exc:
        _fail(f"store error: {exc}", 1)
    except KeyboardInterrupt:
        _fail("interrupted", 130)


@app.command(
    epilog="Examples:\n\n"
    "  quota-watch run                      # embedded default: host collector, SQLite\n\n"
    "  quota-watch run -c /etc/quota-watch/config.toml\n\n"
    "  kill -HUP $(pidof quota-watch)       # reload the config without a restart"
)
def run(config: ConfigOption = None) -> None:
    """Run the daemon: poll every account on schedule and serve /metrics."""
    cfg = _load(config)
    _logging(cfg)
    from quota_watch.daemon import Daemon

    def reload() -> Config:
        from quota_watch.settings import load_config

        return load_config(config)

    code = _run_async(lambda: Daemon(cfg, reload=reload).run())
    raise typer.Exit(code)


@app.command(
    epilog="Examples:\n\n"
    "  quota-watch collect --once\n\n"
    "  quota-watch collect --once --account cf-main --format json"
)
def collect(
    once: Annotated[bool, typer.Option("--once", help="Poll once now (required).")] = False,
    account: Annotated[
        list[str] | None, typer.Option("--account", "-a", help="Only this account (repeatable).")
    ] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.table,
    config: ConfigOption = None,
) -> None:
    """Poll accounts now, store the readings and print them."""
    if not once:
        _fail("collect polls once: pass --once (use `quota-watch run` to poll on a schedule)", 2)
    cfg = _load(config)
    _logging(cfg, "warning")
    names = list(account or [a.name for a in cfg.accounts if a.enabled])
    unknown = [n for n in names if n not in {a.name for a in cfg.accounts}]
    if unknown:
        known = ", ".join(a.name for a in cfg.accounts) or "none"
        _fail(f"unknown account(s): {', '.join(unknown)} (configured: {known})", 2)

    from quota_watch.collect import collect_once
    from quota_watch.report import COLLECT_KEYS, make_row, sort_rows, to_json, to_table

    results = _run_async(lambda: collect_once(cfg, names))
    rows = sort_rows(make_row(r) for result in results for r in result.readings)
    now = datetime.now(UTC)
    typer.echo(to_json(rows, COLLECT_KEYS) if fmt is OutputFormat.json else to_table(rows, now))
    failed = [r for r in results if r.outcome not in ("success", "no_data")]
    for result in results:
        if result.outcome != "success":
            typer.echo(f"{result.account}: {result.outcome}: {result.error}", err=True)
    if failed:
        raise typer.Exit(1)


@app.command(
    epilog="Examples:\n\n  quota-watch report\n\n  quota-watch report --format json | jq '.[0]'"
)
def report(
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.table,
    config: ConfigOption = None,
) -> None:
    """Show every limit of every configured account, riskiest first (reads the store)."""
    cfg = _load(config)
    _logging(cfg, "warning")
    from quota_watch.report import report_rows, to_json, to_table
    from quota_watch.store import Store

    url = cfg.store_url()
    if url.startswith("sqlite") and not _sqlite_file(url).exists():
        _fail(
            f"no readings yet: {_sqlite_file(url)} does not exist "
            "(start `quota-watch run`, or poll once with `quota-watch collect --once`)",
            1,
        )

    async def rows_now() -> list[object]:
        store = await Store.open(url, readonly=url.startswith("sqlite"), migrate=False)
        try:
            readings = await store.latest(accounts={a.name for a in cfg.accounts})
            statuses = await store.account_statuses()
        finally:
            await store.close()
        intervals = {a.name: a.interval for a in cfg.accounts}
        stale_runs = cfg.settings.polling.stale_after_runs
        return list(report_rows(readings, statuses, intervals, datetime.now(UTC), stale_runs))

    rows = _run_async(rows_now)
    now = datetime.now(UTC)
    typer.echo(to_json(rows) if fmt is OutputFormat.json else to_table(rows, now))  # type: ignore[arg-type]


def _sqlite_file(url: str) -> Path:
    from quota_watch.store.urls import parse_database_url

    path = parse_database_url(url).sqlite_path
    assert path is not None
    return path


@collectors_app.command(
    "list",
    epilog="Examples:\n\n  quota-watch collectors list\n\n  quota-watch collectors list -f json",
)
def collectors_list(
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.table,
) -> None:
    """List installed collectors with their limits."""
    from quota_watch.registry import RegistryError, discover

    try:
        infos = discover()
    except RegistryError as exc:
        _fail(["collector errors:", *(f"  {e}" for e in exc.errors)], 1)
    if fmt is OutputFormat.json:
        data = [
            {
                "name": info.name,
                "title": info.catalogue.provider.title,
                "source": info.catalogue.provider.source,
                "verified": info.catalogue.provider.verified.isoformat(),
                "limits": {
                    key: spec.model_dump(mode="json") for key, spec in info.catalogue.limits.items()
                },
            }
            for info in infos.values()
        ]
        typer.echo(json.dumps(data, indent=2))
        return
    for info in infos.values():
        typer.echo(f"{info.name}: {info.catalogue.provider.title}")
        for key, spec in info.catalogue.limits.items():
            from quota_watch.report import human

            cap = human(spec.cap, spec.unit.value) if spec.cap is not None else "from API"
            typer.echo(
                f"  {key:<24} {spec.measure.value:<10} {spec.period.kind.value:<14} cap {cap}"
            )
        if not info.catalogue.limits:
            typer.echo("  (limits are declared per account in the config)")


@config_app.command(
    "check",
    epilog="Examples:\n\n  quota-watch config check\n\n"
    "  quota-watch config check -c ./quota-watch.toml --probe",
)
def config_check(
    config: ConfigOption = None,
    probe: Annotated[
        bool, typer.Option("--probe", help="Also check each account's credentials.")
    ] = False,
) -> None:
    """Validate the configuration (every error at once, with its TOML path)."""
    cfg = _load(config)
    where = cfg.source or "embedded default"
    typer.echo(f"{where}: OK, {len(cfg.accounts)} accounts")
    if not probe:
        return
    from quota_watch.collect import probe_all

    problems = _run_async(lambda: probe_all(cfg))
    for name, problem in problems.items():
        typer.echo(f"  {name}: {'ok' if problem is None else problem}")
    if any(problems.values()):
        raise typer.Exit(1)


@config_app.command(
    "show", epilog="Examples:\n\n  quota-watch config show\n\n  quota-watch config show -f json"
)
def config_show(
    config: ConfigOption = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="toml or json")] = "toml",
) -> None:
    """Print the effective configuration with secrets redacted."""
    cfg = _load(config)
    from quota_watch.settings import redacted

    data = redacted(cfg)
    if fmt == "json":
        typer.echo(json.dumps(data, indent=2))
    elif fmt == "toml":
        from quota_watch.tomlout import dumps

        typer.echo(f"# source: {cfg.source or 'embedded default'}")
        typer.echo(dumps(data))
    else:
        _fail(f"--format: expected toml or json, got {fmt!r}", 2)


@config_app.command(
    "example", epilog="Examples:\n\n  quota-watch config example > config.example.toml"
)
def config_example() -> None:
    """Print a config file documenting every option (the source of config.example.toml)."""
    from quota_watch.config_example import render_example

    typer.echo(render_example(), nl=False)


@db_app.command(
    "migrate", epilog="Examples:\n\n  quota-watch db migrate -c /etc/quota-watch/config.toml"
)
def db_migrate(config: ConfigOption = None) -> None:
    """Apply pending schema migrations (the daemon also does this at start)."""
    cfg = _load(config)
    from quota_watch.store import Store

    async def migrate() -> str:
        store = await Store.open(cfg.store_url(), migrate=False)
        try:
            return await store.migrate()
        finally:
            await store.close()

    revision = _run_async(migrate)
    typer.echo(f"schema at revision {revision}")


@db_app.command(
    "backup",
    epilog="Examples:\n\n  quota-watch db backup /var/backups/quota-watch-$(date +%F).db",
)
def db_backup(
    path: Annotated[Path, typer.Argument(help="Where to write the backup (must not exist).")],
    config: ConfigOption = None,
) -> None:
    """Copy the SQLite database online, consistent while the daemon writes."""
    cfg = _load(config)
    from quota_watch.store import Store

    async def backup() -> None:
        store = await Store.open(cfg.store_url(), migrate=False)
        try:
            await store.backup(path)
        finally:
            await store.close()

    _run_async(backup)
    typer.echo(f"backup written to {path}")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
