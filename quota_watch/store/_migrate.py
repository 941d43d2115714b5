"""Alembic plumbing, imported only when the schema must change (Alembic costs memory at start-up).

New revision (a developer task, against a database at the previous head)::

    from alembic import command
    from quota_watch.store._migrate import alembic_config
    command.revision(alembic_config(), "add alert state", rev_id="0002")

Set ``HEAD_REVISION`` in ``revision.py`` to the new id; a test checks they agree.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection

from quota_watch.store.models import StoreError
from quota_watch.store.revision import HEAD_REVISION

__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "known_revision",
    "newer_schema",
    "script_head",
    "upgrade",
]

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic Config built in code, optionally bound to an open connection."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.set_main_option("file_template", "v%%(rev)s_%%(slug)s")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def script_head() -> str:
    """The newest revision among the migration scripts."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise StoreError("no migration scripts found")
    return head


def known_revision(revision: str) -> bool:
    """Whether `revision` is one of this release's migrations."""
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False


def newer_schema(where: str, revision: str) -> str:
    """The refusal to use a database that a newer release migrated."""
    return (
        f"the database at {where} has schema revision {revision!r}, which this quota-watch "
        f"does not know (newest known: {HEAD_REVISION}): a newer release migrated it. Refusing "
        "to use it; run that release again, or restore a backup taken before the upgrade"
    )


def upgrade(connection: Connection, current: str | None) -> None:
    """Upgrade the database on `connection` (inside its transaction) to the newest revision."""
    config = alembic_config(connection)
    script = ScriptDirectory.from_config(config)
    if current is not None:
        try:
            known = script.get_revision(current) is not None
        except CommandError:
            known = False
        if not known:
            raise StoreError(
                f"the database schema is at revision {current!r}, which this quota-watch does "
                f"not know (newest known: {script.get_current_head()}); it was probably "
                "migrated by a newer release"
            )
    try:
        command.upgrade(config, "head")
    except CommandError as exc:
        raise StoreError(f"schema migration failed: {exc}") from exc
