"""`quota-watch db`: migrate, backup, restore."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from quota_watch.cli.common import ConfigOption, fail, load, run_async

app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


@app.command(
    "migrate", epilog="Examples:\n\n  quota-watch db migrate -c /etc/quota-watch/config.toml"
)
def db_migrate(config: ConfigOption = None) -> None:
    """Apply pending schema migrations (the daemon also does this at start)."""
    cfg = load(config)
    from quota_watch.store.admin import migrate

    revision = run_async(lambda: migrate(cfg.store_url()))
    typer.echo(f"schema at revision {revision}")


@app.command(
    "backup",
    epilog="Examples:\n\n  quota-watch db backup /var/backups/quota-watch-$(date +%F).db",
)
def db_backup(
    path: Annotated[Path, typer.Argument(help="Where to write the backup (must not exist).")],
    config: ConfigOption = None,
) -> None:
    """Copy the SQLite database online, consistent while the daemon writes."""
    cfg = load(config)
    from quota_watch.store.admin import backup

    run_async(lambda: backup(cfg.store_url(), path))
    typer.echo(f"backup written to {path}")


@app.command(
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
    cfg = load(config)
    from quota_watch.store.admin import sqlite_target
    from quota_watch.store.backup import restore_sqlite
    from quota_watch.store.models import StoreError

    url = cfg.store_url()
    if not url.startswith("sqlite"):
        fail("db restore is for SQLite; restore PostgreSQL with pg_restore", 2)
    try:
        target = sqlite_target(url)
        result = restore_sqlite(backup, target, now=datetime.now(UTC), force=force)
    except StoreError as exc:
        fail(f"restore failed: {exc}", 1)
    typer.echo(f"restored {backup} (schema {result.revision}) to {target}")
    if result.replaced is not None:
        typer.echo(f"the previous database is kept as {result.replaced}")
