"""Backup and restore of a SQLite store: an online copy, and a safe swap-in of a copy."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from quota_watch.store.common import BUSY_TIMEOUT_MS, require_aware
from quota_watch.store.engine import StoreBase
from quota_watch.store.models import StoreError
from quota_watch.store.revision import HEAD_REVISION

__all__ = ["BackupMixin", "RestoreResult", "restore_sqlite"]


class BackupMixin(StoreBase):
    """The Store's online backup (SQLite only: PostgreSQL has pg_dump)."""

    async def backup(self, path: Path) -> None:
        """Copy the SQLite database to a new file at `path`, consistently, while others write."""
        source = self._parsed.sqlite_path
        if source is None:
            raise StoreError("backup is only for SQLite; use pg_dump for PostgreSQL")
        await asyncio.to_thread(_sqlite_backup, source, Path(path))


def _sqlite_backup(source: Path, target: Path) -> None:
    target = target.expanduser().resolve()
    if target.exists():
        raise StoreError(f"refusing to overwrite {target}: it already exists")
    if not target.parent.is_dir():
        raise StoreError(f"cannot write a backup to {target}: {target.parent} is not a directory")
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.partial")
    try:
        src = sqlite3.connect(
            f"file:{quote(str(source), safe='/')}?mode=ro",
            uri=True,
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
        try:
            dst = sqlite3.connect(partial)
            try:
                # One step (pages=-1): the whole copy is read in one transaction, so it is a
                # consistent snapshot even while the daemon keeps writing (WAL).
                src.backup(dst)
                dst.execute("PRAGMA journal_mode = DELETE")  # a single self-contained file
                (check,) = dst.execute("PRAGMA quick_check").fetchone()
                if check != "ok":
                    raise StoreError(f"backup of {source} failed its integrity check: {check}")
            finally:
                dst.close()
        finally:
            src.close()
        _publish(partial, target)
    except sqlite3.Error as exc:
        raise StoreError(f"backup of {source} to {target} failed: {exc}") from exc
    except OSError as exc:
        raise StoreError(f"backup of {source} to {target} failed: {exc.strerror or exc}") from exc
    finally:
        partial.unlink(missing_ok=True)


def _publish(partial: Path, target: Path) -> None:
    """Give the finished copy its name without ever replacing a file that appeared meanwhile."""
    try:
        os.link(partial, target)
    except FileExistsError:
        raise StoreError(f"refusing to overwrite {target}: it already exists") from None
    except OSError:  # no hard links on this file system
        if target.exists():
            raise StoreError(f"refusing to overwrite {target}: it already exists") from None
        partial.replace(target)


@dataclasses.dataclass(frozen=True)
class RestoreResult:
    """What a restore did."""

    revision: str  # the restored database's schema revision (migrated at the next start)
    replaced: Path | None  # where the database that was there before was saved, if any


def restore_sqlite(
    backup: Path, target: Path, *, now: datetime, force: bool = False
) -> RestoreResult:
    """Replace the SQLite database at `target` with a copy of `backup`, safely.

    The backup must pass SQLite's full integrity check and carry a schema revision this
    release knows. An existing database is only replaced with `force`, never while another
    process has it open (a running daemon), and is first saved next to it as
    ``<name>.replaced-<UTC time>``. Stale ``-wal``/``-shm`` files are removed, and the new
    file gets the old one's owner and mode (or its directory's owner), so that a restore run
    as root leaves a database the service user can still write.
    """
    require_aware("now", now)
    backup = backup.expanduser().resolve()
    target = target.expanduser().resolve()
    if not backup.is_file():
        raise StoreError(f"no backup at {backup}")
    revision = _check_backup(backup)
    if backup == target:
        raise StoreError(f"{backup} is the database itself")
    sidecars = [target.with_name(target.name + suffix) for suffix in ("-wal", "-shm")]
    exists = target.exists()
    if (exists or any(p.exists() for p in sidecars)) and not force:
        raise StoreError(
            f"refusing to overwrite {target}: it exists (stop the daemon, then pass --force; "
            "the current database is kept beside it)"
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create {target.parent}: {exc.strerror or exc}") from exc
    owner = target if exists else target.parent
    replaced: Path | None = None
    if exists:
        _refuse_if_open(target)
        replaced = target.with_name(f"{target.name}.replaced-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}")
        _sqlite_backup(target, replaced)
    staged = target.with_name(f".{target.name}.{uuid.uuid4().hex}.restore")
    try:
        _sqlite_backup(backup, staged)
        _copy_ownership(owner, staged, mode=exists)
        for sidecar in sidecars:
            sidecar.unlink(missing_ok=True)
        staged.replace(target)
    except OSError as exc:
        raise StoreError(f"restoring {target} failed: {exc.strerror or exc}") from exc
    finally:
        staged.unlink(missing_ok=True)
    _fsync_dir(target.parent)
    return RestoreResult(revision=revision, replaced=replaced)


def _check_backup(backup: Path) -> str:
    """The backup's schema revision, after SQLite's full integrity check."""
    try:
        conn = sqlite3.connect(f"file:{quote(str(backup), safe='/')}?mode=ro", uri=True)
        try:
            rows = [row[0] for row in conn.execute("PRAGMA integrity_check")]
            if rows != ["ok"]:
                raise StoreError(f"{backup} failed the integrity check: {'; '.join(rows[:3])}")
            try:
                row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            except sqlite3.OperationalError:
                row = None
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{backup} is not a usable SQLite database: {exc}") from exc
    if row is None:
        raise StoreError(f"{backup} is not a quota-watch database (no schema revision)")
    revision = str(row[0])
    from quota_watch.store._migrate import known_revision  # Alembic: only on this rare path

    if not known_revision(revision):
        raise StoreError(
            f"{backup} has schema revision {revision!r}, which this quota-watch does not know "
            f"(newest known: {HEAD_REVISION}); restore it with the release that wrote it"
        )
    return revision


def _refuse_if_open(target: Path) -> None:
    """StoreError when another process has the database open (the daemon keeps it open)."""
    # An exclusive-mode connection cannot lock a WAL database that another connection has open,
    # even an idle one: that is the "is a daemon using it" test.
    try:
        conn = sqlite3.connect(target, isolation_level=None, timeout=0)
        try:
            conn.execute("PRAGMA locking_mode = EXCLUSIVE")
            conn.execute("BEGIN EXCLUSIVE")
            conn.execute("ROLLBACK")
        finally:
            conn.close()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise StoreError(
                f"{target} is in use by another process (is the daemon running? stop it first)"
            ) from None
        raise StoreError(f"cannot open {target}: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot open {target}: {exc}") from exc


def _copy_ownership(reference: Path, path: Path, *, mode: bool) -> None:
    info = reference.stat()
    if mode:
        path.chmod(info.st_mode & 0o777)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        os.chown(path, info.st_uid, info.st_gid)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
