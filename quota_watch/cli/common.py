"""What every command shares: the --config option, loading, logging, failing, running async."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from quota_watch.config.load import AccountScope
    from quota_watch.config.settings import Config

T = TypeVar("T")

EXIT_CONFIG = 2

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


def fail(lines: list[str] | str, code: int) -> NoReturn:
    """Print `lines` to stderr and exit with `code`."""
    for line in [lines] if isinstance(lines, str) else lines:
        typer.echo(line, err=True)
    raise typer.Exit(code)


def load(config_path: Path | None, accounts: AccountScope | None = None) -> Config:
    """The configuration, or exit 2 listing every error (`accounts`: a read-only command's
    scope, see load_config)."""
    from quota_watch.config.errors import ConfigError
    from quota_watch.config.load import load_config

    try:
        return load_config(config_path, accounts=accounts)
    except ConfigError as exc:
        fail(["configuration error:", *(f"  {e}" for e in exc.errors)], EXIT_CONFIG)


def load_optional(config_path: Path | None) -> Config | None:
    """The configuration when --config is given, else None (the command's defaults apply)."""
    return load(config_path) if config_path is not None else None


class LogLevel(StrEnum):
    """--log-level values (those of [logging] level)."""

    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


class LogFormat(StrEnum):
    """--log-format values (those of [logging] format)."""

    text = "text"
    json = "json"
    logfmt = "logfmt"


LogLevelOption = Annotated[
    LogLevel | None,
    typer.Option(
        "--log-level",
        metavar="LEVEL",
        help="debug, info, warning or error (default: [logging] level, else info).",
        case_sensitive=False,
    ),
]
LogFormatOption = Annotated[
    LogFormat | None,
    typer.Option(
        "--log-format",
        metavar="FORMAT",
        help="text, json or logfmt; json and logfmt carry account, provider, limit, alert and "
        "notifier as keys (default: [logging] format, else text).",
        case_sensitive=False,
    ),
]


def setup_logging(config: Config, level: str | None = None, fmt: str | None = None) -> None:
    """Log as the config says, at `level` and in `fmt` when given."""
    from quota_watch.daemon.logs import setup_logging as setup

    setup(level or config.settings.logging.level, fmt or config.settings.logging.format)


def run_async(coro_fn: Callable[[], Awaitable[T]]) -> T:
    """Run `coro_fn()` to completion; a store error exits 1, Ctrl-C exits 130."""
    import asyncio

    from quota_watch.store.models import StoreError

    async def wrapped() -> T:
        return await coro_fn()

    try:
        return asyncio.run(wrapped())
    except StoreError as exc:
        fail(f"store error: {exc}", 1)
    except KeyboardInterrupt:
        fail("interrupted", 130)


def run_read(url: str, coro_fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a read-only command's read of the store at `url` as run_async does; for a plain
    SQLite file without an event loop: the sqlite3 reader never waits on one, so the command
    does not import asyncio at all."""
    from quota_watch.store.sqlite_reader import simple_sqlite_path

    if simple_sqlite_path(url) is None:
        return run_async(coro_fn)
    from quota_watch.store.models import StoreError

    try:
        return _complete(coro_fn())
    except StoreError as exc:
        fail(f"store error: {exc}", 1)
    except KeyboardInterrupt:
        fail("interrupted", 130)


def _complete(coro: Coroutine[Any, Any, T]) -> T:
    """The result of `coro`, run in one step: RuntimeError if it waits on an event loop."""
    try:
        waited = coro.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    coro.close()
    raise RuntimeError(f"a loop-free read waited on the event loop ({waited!r})")


def require_database(url: str, what: str) -> None:
    """Exit 1 when the SQLite database of `url` does not exist yet (`what`: readings, history)."""
    from quota_watch.reporting.command import sqlite_file
    from quota_watch.store.models import StoreError

    try:
        database = sqlite_file(url)
    except StoreError as exc:
        fail(f"store.url: {exc}", 2)
    if database is not None and not database.exists():
        fail(
            f"no {what} yet: {database} does not exist "
            "(start `quota-watch run`, or poll once with `quota-watch collect --once`)",
            1,
        )
