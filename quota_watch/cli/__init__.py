"""The command line: run, collect, report, collectors, config, db."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from quota_watch.config.settings import Config

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
notify_app = typer.Typer(help="Notification channels.", no_args_is_help=True)
silence_app = typer.Typer(help="Mute matching alerts for a while.", no_args_is_help=True)
rules_app = typer.Typer(help="The alert rules.", no_args_is_help=True)
dashboards_app = typer.Typer(help="Grafana dashboards.", no_args_is_help=True)
app.add_typer(collectors_app, name="collectors")
app.add_typer(notify_app, name="notify")
app.add_typer(silence_app, name="silence")
app.add_typer(rules_app, name="rules")
app.add_typer(dashboards_app, name="dashboards")
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
    from quota_watch.config.errors import ConfigError
    from quota_watch.config.load import load_config

    try:
        return load_config(config_path)
    except ConfigError as exc:
        _fail(["configuration error:", *(f"  {e}" for e in exc.errors)], EXIT_CONFIG)


def _logging(config: Config, level: str | None = None) -> None:
    from quota_watch.daemon.logs import setup_logging

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
    from quota_watch.daemon.process import Daemon

    def reload() -> Config:
        from quota_watch.config.load import load_config

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

    from quota_watch.collect.once import collect_once
    from quota_watch.reporting.plain import to_table
    from quota_watch.status.rows import COLLECT_KEYS, make_row, sort_rows, to_json

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


class ReportFormat(StrEnum):
    """Output formats of report."""

    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


class FailOn(StrEnum):
    """Levels of report --fail-on."""

    warning = "warning"
    critical = "critical"


_FILTER = "(repeatable, or a comma list)"


@app.command(
    epilog="Examples:\n\n"
    "  quota-watch report\n\n"
    "  quota-watch report --status critical,warning --group edge\n\n"
    "  quota-watch report --format markdown > status.md\n\n"
    "  quota-watch report --format json | jq '.[0]'\n\n"
    "  quota-watch report --fail-on critical || echo 'a quota is full'\n\n"
    "Exit codes: 0 the report was shown (and, with --fail-on, no shown row is at that "
    "level); 1 a shown row is at or above the --fail-on level (warning also counts critical "
    "and stale), or the store cannot be read; 2 bad input (an unknown filter value, a bad "
    "config)."
)
def report(
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f")] = ReportFormat.table,
    provider: Annotated[
        list[str] | None,
        typer.Option("--provider", "-p", metavar="PROVIDER", help=f"Only this provider {_FILTER}."),
    ] = None,
    account: Annotated[
        list[str] | None,
        typer.Option("--account", "-a", metavar="ACCOUNT", help=f"Only this account {_FILTER}."),
    ] = None,
    group: Annotated[
        list[str] | None,
        typer.Option("--group", "-g", metavar="POOL", help=f"Only this pool {_FILTER}."),
    ] = None,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            "-s",
            metavar="STATUS",
            help=f"Only rows with this status: ok, warning, critical, stale, unknown {_FILTER}.",
        ),
    ] = None,
    fail_on: Annotated[
        FailOn | None,
        typer.Option("--fail-on", help="Exit 1 when a shown row is at or above this level."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Every limit of every configured account, grouped by account, riskiest first: a usage
    bar, value / cap, utilization, forecast, time to reset and to exhaustion, the last 15 days
    and the cap's source. Reads the store read-only, so it runs safely beside the daemon."""
    cfg = _load(config)
    _logging(cfg, "warning")
    from quota_watch.reporting import command
    from quota_watch.reporting.entries import STATUSES, fails, only_statuses

    try:
        request = command.ReportRequest(
            providers=command.choose(
                "--provider", provider, sorted({a.collector for a in cfg.accounts})
            ),
            accounts=command.choose("--account", account, [a.name for a in cfg.accounts]),
            groups=command.choose(
                "--group", group, sorted({a.group for a in cfg.accounts if a.group})
            ),
            statuses=command.choose("--status", status, STATUSES),
        )
    except command.ReportError as exc:
        _fail(str(exc), EXIT_CONFIG)
    url = cfg.store_url()
    database = command.sqlite_file(url)
    if database is not None and not database.exists():
        _fail(
            f"no readings yet: {database} does not exist "
            "(start `quota-watch run`, or poll once with `quota-watch collect --once`)",
            1,
        )
    runtimes = command.account_runtimes(cfg, request.selects)
    pools = {rt.config.group for rt in runtimes.values() if rt.config.group}
    others = [a for a in cfg.accounts if a.group in pools and a.name not in runtimes]
    pool_runtimes = command.account_runtimes(cfg, lambda a: a in others) if others else {}
    now = command.utcnow()
    found, advice = _run_async(lambda: command.read_report(url, cfg, runtimes, pool_runtimes, now))
    entries = only_statuses(found, request.statuses)
    colour = command.wants_colour(sys.stdout.isatty(), os.environ)
    text = command.render(fmt.value, entries, now, advice, colour=colour)
    typer.echo(text, nl=not text.endswith("\n"))
    if fails(entries, fail_on.value if fail_on else None):
        raise typer.Exit(1)


class HistoryFormat(StrEnum):
    """Output formats of history."""

    table = "table"
    csv = "csv"


@app.command(
    epilog="Examples:\n\n"
    "  quota-watch history --account cf-main --limit workers_requests\n\n"
    "  quota-watch history -a gh -l actions_minutes --days 60\n\n"
    "  quota-watch history -a cf-main -l r2_storage -r my-bucket --format csv > r2.csv\n\n"
    "Exit codes: 0 shown; 1 the store cannot be read; 2 bad input (an unknown account, limit "
    "or resource: the message lists the known ones)."
)
def history(
    account: Annotated[
        str, typer.Option("--account", "-a", metavar="ACCOUNT", help="The account.")
    ],
    limit: Annotated[str, typer.Option("--limit", "-l", metavar="LIMIT", help="The limit.")],
    resource: Annotated[
        str | None,
        typer.Option(
            "--resource", "-r", metavar="RESOURCE", help="The resource, for per-resource limits."
        ),
    ] = None,
    days: Annotated[
        int, typer.Option("--days", "-d", min=1, max=3660, help="Days back, today included.")
    ] = 14,
    fmt: Annotated[HistoryFormat, typer.Option("--format", "-f")] = HistoryFormat.table,
    config: ConfigOption = None,
) -> None:
    """One series' stored history by UTC day (min, max, last, samples, a sparkline of the
    hourly maxima), or every stored row (daily and hourly rollups, raw samples) as CSV."""
    cfg = _load(config)
    _logging(cfg, "warning")
    from quota_watch.reporting import command
    from quota_watch.reporting.history import HistoryError, to_csv, to_table

    url = cfg.store_url()
    database = command.sqlite_file(url)
    if database is not None and not database.exists():
        _fail(
            f"no history yet: {database} does not exist "
            "(start `quota-watch run`, or poll once with `quota-watch collect --once`)",
            1,
        )
    now = command.utcnow()
    try:
        found = _run_async(lambda: command.read_history(url, account, limit, resource, days, now))
    except HistoryError as exc:
        _fail(str(exc), EXIT_CONFIG)
    if fmt is HistoryFormat.csv:
        typer.echo(to_csv(found), nl=False)
    else:
        typer.echo(to_table(found))


class PlanFormat(StrEnum):
    """Output formats of plan."""

    table = "table"
    json = "json"
    markdown = "markdown"


@app.command(
    epilog="Examples:\n\n"
    "  quota-watch plan                     # every pool, then advice for everything else\n\n"
    "  quota-watch plan --group edge --format markdown\n\n"
    "  quota-watch plan --format json | jq '.pools[] | {group, shards, recommended}'"
)
def plan(
    group: Annotated[
        list[str] | None,
        typer.Option("--group", "-g", help="Only this pool (repeatable).", show_default=False),
    ] = None,
    fmt: Annotated[PlanFormat, typer.Option("--format", "-f")] = PlanFormat.table,
    show_all: Annotated[
        bool, typer.Option("--all", help="List every limit of a pool, not only the risky ones.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Shard pools and split advice: how many shards each pool needs, which limit binds, by
    when to act, which shard is hot; nothing is ever changed on the provider's side."""
    cfg = _load(config)
    _logging(cfg, "warning")
    known = sorted({a.group for a in cfg.accounts if a.group is not None})
    unknown = sorted(set(group or ()) - set(known))
    if unknown:
        _fail(
            f"--group: no pool named {', '.join(map(repr, unknown))} "
            f"(configured pools: {', '.join(known) or 'none'})",
            EXIT_CONFIG,
        )
    url = cfg.store_url()
    if url.startswith("sqlite") and not _sqlite_file(url).exists():
        _fail(
            f"no readings yet: {_sqlite_file(url)} does not exist "
            "(start `quota-watch run`, or poll once with `quota-watch collect --once`)",
            1,
        )
    from quota_watch.engine.rulepack import load_rule_pack
    from quota_watch.reporting import command
    from quota_watch.reporting.plan import plan_to_json, plan_to_markdown, plan_to_text
    from quota_watch.status.plan import build_plan

    runtimes = command.account_runtimes(cfg, lambda a: not group or a.group in group)
    pack = load_rule_pack(cfg.settings.alerts.rule_pack)
    now = command.utcnow()
    positions = _run_async(lambda: command.read_positions(url, cfg, runtimes, now))
    result = build_plan(positions, runtimes, pack, now)
    if fmt is PlanFormat.json:
        typer.echo(plan_to_json(result))
    elif fmt is PlanFormat.markdown:
        typer.echo(plan_to_markdown(result, show_all=show_all))
    else:
        typer.echo(plan_to_text(result, show_all=show_all))


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
    from quota_watch.collect.registry import RegistryError, discover

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
                "policy": info.catalogue.provider.policy.model_dump(mode="json"),
                "limits": {
                    key: spec.model_dump(mode="json") for key, spec in info.catalogue.limits.items()
                },
            }
            for info in infos.values()
        ]
        typer.echo(json.dumps(data, indent=2))
        return
    for info in infos.values():
        count = len(info.catalogue.limits)
        typer.echo(f"{info.name}: {info.catalogue.provider.title} ({count} limits)")
        policy = info.catalogue.provider.policy
        typer.echo(
            f"  policy: several free accounts {policy.multi_account}, "
            f"commercial use {policy.commercial_use} (shard advice follows it)"
        )
        for key, spec in info.catalogue.limits.items():
            from quota_watch.units import human

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
    from quota_watch.collect.once import probe_all

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
    from quota_watch.config.load import redacted

    data = redacted(cfg)
    if fmt == "json":
        typer.echo(json.dumps(data, indent=2))
    elif fmt == "toml":
        from quota_watch.config.tomlout import dumps

        typer.echo(f"# source: {cfg.source or 'embedded default'}")
        typer.echo(dumps(data))
    else:
        _fail(f"--format: expected toml or json, got {fmt!r}", 2)


@config_app.command(
    "example", epilog="Examples:\n\n  quota-watch config example > config.example.toml"
)
def config_example() -> None:
    """Print a config file documenting every option (the source of config.example.toml)."""
    from quota_watch.config.example import render_example

    typer.echo(render_example(), nl=False)


@config_app.command(
    "hash-password",
    epilog="Examples:\n\n  quota-watch config hash-password\n\n"
    "  printf '%s' \"$PASSWORD\" | quota-watch config hash-password --cost 10",
)
def config_hash_password(
    cost: Annotated[
        int, typer.Option("--cost", min=10, max=16, help="bcrypt cost (each +1 doubles it).")
    ] = 12,
) -> None:
    """Print the bcrypt hash of a password for [server.basic_auth_users].

    Asks twice without echo on a terminal; otherwise reads the password from the first line of
    standard input.
    """
    import getpass

    from quota_watch.daemon.auth import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            _fail("the passwords differ", 1)
    else:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    try:
        typer.echo(hash_password(password, cost))
    except ValueError as exc:
        _fail(f"error: {exc}", 1)


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


@db_app.command(
    "restore",
    epilog="Examples:\n\n"
    "  systemctl stop quota-watch\n\n"
    "  quota-watch db restore --force /var/lib/quota-watch/backups/quota-watch-20261122.db",
)
def db_restore(
    backup: Annotated[Path, typer.Argument(help="A file written by `quota-watch db backup`.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing database (kept beside it).")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Replace the SQLite database with a checked backup (stop the daemon first)."""
    cfg = _load(config)
    from quota_watch.store import StoreError
    from quota_watch.store.store import restore_sqlite

    url = cfg.store_url()
    if not url.startswith("sqlite"):
        _fail("db restore is for SQLite; restore PostgreSQL with pg_restore", 2)
    try:
        result = restore_sqlite(backup, _sqlite_file(url), now=datetime.now(UTC), force=force)
    except StoreError as exc:
        _fail(f"restore failed: {exc}", 1)
    typer.echo(f"restored {backup} (schema {result.revision}) to {_sqlite_file(url)}")
    if result.replaced is not None:
        typer.echo(f"the previous database is kept as {result.replaced}")


class SeverityChoice(StrEnum):
    """Alert severities."""

    critical = "critical"
    warning = "warning"
    info = "info"


@notify_app.command(
    "test",
    epilog="Examples:\n\n  quota-watch notify test\n\n  quota-watch notify test --severity warning",
)
def notify_test(
    severity: Annotated[
        SeverityChoice, typer.Option("--severity", "-s", help="Severity of the test message.")
    ] = SeverityChoice.critical,
    config: ConfigOption = None,
) -> None:
    """Send a test message through every notifier that takes SEVERITY; report each result."""
    cfg = _load(config)
    _logging(cfg, "warning")
    from quota_watch.notify.config import notifier_name
    from quota_watch.notify.deliver import send
    from quota_watch.notify.routing import route
    from quota_watch.notify.templates import render_test

    notifiers = cfg.settings.notifiers
    now = datetime.now(UTC)
    chosen = {r.notifier for r in route(severity.value, "test", notifiers, (), now)}
    targets = [(notifier_name(n, i), n) for i, n in enumerate(notifiers)]
    targets = [(name, n) for name, n in targets if name in chosen]
    if not targets:
        _fail(f"no notifier takes {severity.value} messages (see [[notifiers]] severities)", 1)
    title, text, markdown = render_test(severity.value, now)

    async def send_all() -> list[tuple[bool, str | None]]:
        return list(
            await asyncio.gather(
                *(
                    send(
                        n.url.get_secret_value(),
                        title,
                        markdown if n.format == "markdown" else text,
                        n.format,
                    )
                    for _, n in targets
                )
            )
        )

    results = _run_async(send_all)
    for (name, _), (ok, error) in zip(targets, results, strict=True):
        typer.echo(f"{name}: {'sent' if ok else f'FAILED: {error}'}")
    if not all(ok for ok, _ in results):
        raise typer.Exit(1)


def _parse_matchers(text: str) -> dict[str, str]:
    from quota_watch.model import SILENCE_MATCHER_KEYS

    matchers: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            _fail(f"--match: {part!r} is not key=value", 2)
        if key not in SILENCE_MATCHER_KEYS:
            allowed = ", ".join(sorted(SILENCE_MATCHER_KEYS))
            _fail(f"--match: unknown key {key!r} (use {allowed})", 2)
        matchers[key] = value
    if not matchers:
        _fail("--match: give at least one key=value", 2)
    return matchers


@silence_app.command(
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
    import getpass

    from quota_watch.model import Silence
    from quota_watch.sdk import parse_duration
    from quota_watch.store import Store

    matchers = _parse_matchers(match)
    try:
        length = parse_duration(duration)
    except ValueError as exc:
        _fail(f"--for: {exc}", 2)
    if not reason.strip():
        _fail("--reason: say why", 2)
    cfg = _load(config)
    now = datetime.now(UTC)
    silence = Silence(
        id=None,
        matchers=matchers,
        starts_at=now,
        ends_at=now + length,
        reason=reason.strip(),
        created_by=getpass.getuser(),
        created_at=now,
    )

    async def add() -> Silence:
        async with await Store.open(cfg.store_url()) as store:
            return await store.add_silence(silence)

    added = _run_async(add)
    typer.echo(f"silence {added.id} until {added.ends_at.isoformat(timespec='minutes')}")


@silence_app.command(
    "list", epilog="Examples:\n\n  quota-watch silence list\n\n  quota-watch silence list --all"
)
def silence_list(
    show_all: Annotated[bool, typer.Option("--all", help="Include expired silences.")] = False,
    config: ConfigOption = None,
) -> None:
    """List silences in force (and expired ones with --all)."""
    from quota_watch.model import Silence
    from quota_watch.store import Store

    cfg = _load(config)
    now = datetime.now(UTC)

    async def listing() -> list[Silence]:
        async with await Store.open(cfg.store_url()) as store:
            return await store.list_silences(now, include_expired=show_all)

    silences = _run_async(listing)
    if not silences:
        typer.echo("no silences")
        return
    for s in silences:
        matchers = ",".join(f"{k}={v}" for k, v in sorted(s.matchers.items()))
        state = "active" if s.active(now) else "expired" if s.ends_at <= now else "pending"
        until = s.ends_at.isoformat(timespec="minutes")
        typer.echo(
            f"{s.id:>4}  {state:<7}  until {until}  {matchers}  ({s.created_by}: {s.reason})"
        )


@silence_app.command("remove", epilog="Examples:\n\n  quota-watch silence remove 3")
def silence_remove(
    silence_id: Annotated[int, typer.Argument(help="The silence's ID (see `silence list`).")],
    config: ConfigOption = None,
) -> None:
    """End a silence now."""
    from quota_watch.store import Store

    cfg = _load(config)

    async def remove() -> bool:
        async with await Store.open(cfg.store_url()) as store:
            return await store.remove_silence(silence_id)

    if not _run_async(remove):
        _fail(f"no silence with ID {silence_id}", 1)
    typer.echo(f"silence {silence_id} removed")


@rules_app.command(
    "test",
    epilog="Examples:\n\n"
    "  quota-watch rules test rules/examples/month_daily.toml\n\n"
    "  quota-watch rules test usage.csv --unit bytes --measure level --cap '500 MB'",
)
def rules_test(
    path: Annotated[Path, typer.Argument(help="Series file: TOML, or CSV with ts,value.")],
    unit: Annotated[str | None, typer.Option(help="CSV: bytes, seconds or count.")] = None,
    measure: Annotated[str | None, typer.Option(help="CSV: cumulative or level.")] = None,
    period: Annotated[str | None, typer.Option(help="CSV: daily, calendar_month, ...")] = None,
    cap: Annotated[str | None, typer.Option(help="CSV: the cap, e.g. '500 MB'.")] = None,
    messages: Annotated[
        bool, typer.Option("--messages/--no-messages", help="Print each message's text.")
    ] = True,
    config: ConfigOption = None,
) -> None:
    """Replay a series through the rules; print the alerts and messages they would send."""
    from quota_watch.config.errors import ConfigError
    from quota_watch.engine.replay import load_series, replay
    from quota_watch.engine.rulepack import load_rule_pack
    from quota_watch.notify.templates import render

    cfg = _load(config) if config is not None else None
    meta = {
        k: v
        for k, v in {"unit": unit, "measure": measure, "period": period, "cap": cap}.items()
        if v is not None
    }
    try:
        series = load_series(path, **meta)
        pack = load_rule_pack(cfg.settings.alerts.rule_pack if cfg else None)
    except ConfigError as exc:
        _fail(["cannot replay:", *(f"  {e}" for e in exc.errors)], 2)
    result = replay(series, pack, cfg.settings.rules if cfg else ())
    for error in result.errors:
        typer.echo(f"rules: {error}", err=True)
    for t in result.transitions:
        title, text, _ = render(t.kind, t.state, t.at, resets_at=t.state.period_end)
        typer.echo(f"{t.at.isoformat(timespec='minutes')}  {t.kind:<12} {title}")
        if messages:
            typer.echo("".join(f"    {line}\n" for line in text.splitlines()))
    firsts: dict[str, datetime] = {}
    for t in result.transitions:
        if t.kind in ("firing", "escalated"):
            firsts.setdefault(t.state.alertname, t.at)
    typer.echo(f"{len(result.transitions)} transitions")
    if "QuotaPredictedFull" in firsts and "QuotaAlmostFull" in firsts:
        lead = firsts["QuotaAlmostFull"] - firsts["QuotaPredictedFull"]
        typer.echo(f"forecast lead over the threshold warning: {lead}")


@rules_app.command(
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
    config: ConfigOption = None,
) -> None:
    """Write the Prometheus alerting rules generated from the rule pack (same alert names,
    thresholds and severities as the built-in engine). With --config: that config's rule pack
    and polling.interval."""
    from quota_watch.config.errors import ConfigError
    from quota_watch.config.settings import PollingSettings
    from quota_watch.engine.rulepack import default_pack_path, load_rule_pack
    from quota_watch.prometheus.rules import RULES_FILE, default_output_dir, render_rule_file

    cfg = _load(config) if config is not None else None
    pack_path = cfg.settings.alerts.rule_pack if cfg else None
    try:
        pack = load_rule_pack(pack_path)
    except ConfigError as exc:
        _fail(["cannot load the rule pack:", *(f"  {e}" for e in exc.errors)], EXIT_CONFIG)
    shipped = pack_path is None or pack_path == default_pack_path()
    text = render_rule_file(
        pack,
        interval=cfg.settings.polling.interval if cfg else PollingSettings().interval,
        runbook_url_base=runbook_url_base,
        source="rules/default.toml" if shipped else str(pack_path),
    )
    if output == Path("-"):
        if check:
            _fail("--check compares with a file: give a directory with --output", 2)
        typer.echo(text, nl=False)
        return
    directory = output or default_output_dir()
    if directory is None:
        _fail("not a source checkout: give the directory with --output", 2)
    target = directory / RULES_FILE
    if check:
        try:
            current = target.read_text(encoding="utf-8")
        except OSError:
            _fail(f"{target}: missing; run `quota-watch rules export`", 1)
        if current != text:
            _fail(f"{target}: differs from the export; run `quota-watch rules export`", 1)
        typer.echo(f"{target}: up to date")
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        _fail(f"{target}: cannot write: {exc.strerror}", 1)
    typer.echo(f"wrote {target}")


@dashboards_app.command(
    "export",
    epilog="Examples:\n\n"
    "  quota-watch dashboards export\n\n"
    "  quota-watch dashboards export --output /var/lib/grafana/dashboards\n\n"
    "  quota-watch dashboards export --check   # CI: exit 1 on drift",
)
def dashboards_export(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Directory for the JSON files (default: dashboards/ of the source checkout).",
            file_okay=False,
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 naming each file that differs."),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Write the Grafana dashboards (overview, account, pools) generated from the installed
    collectors' catalogues and the rule pack's thresholds. With --config: that config's rule
    pack."""
    from quota_watch.collect.registry import RegistryError
    from quota_watch.config.errors import ConfigError
    from quota_watch.prometheus.dashboards.export import (
        default_output_dir,
        differences,
        load_inputs,
        render,
        write,
    )

    cfg = _load(config) if config is not None else None
    try:
        files = render(load_inputs(cfg.settings.alerts.rule_pack if cfg else None))
    except RegistryError as exc:
        _fail(["collector errors:", *(f"  {e}" for e in exc.errors)], 1)
    except ConfigError as exc:
        _fail(["cannot load the rule pack:", *(f"  {e}" for e in exc.errors)], EXIT_CONFIG)
    directory = output or default_output_dir()
    if directory is None:
        _fail("not a source checkout: give the directory with --output", 2)
    if check:
        drift = differences(directory, files)
        if drift:
            _fail([*drift, "run `quota-watch dashboards export` to regenerate"], 1)
        typer.echo(f"{directory}: {len(files)} dashboards up to date")
        return
    try:
        paths = write(directory, files)
    except OSError as exc:
        _fail(f"{directory}: cannot write: {exc.strerror}", 1)
    for path in paths:
        typer.echo(f"wrote {path}")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
