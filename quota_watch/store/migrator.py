"""Schema migrations in a child process, so the daemon never holds Alembic in its memory.

Alembic (with Mako and the migration scripts) costs the process that imports it ~15 MiB that
Python does not give back; the daemon needs it only on its first start or after an upgrade.
:func:`open_migrated` opens the store without migrating, compares the stored revision with
``HEAD_REVISION`` (no Alembic needed for that), and only when they differ runs
``python -m quota_watch.store.migrator`` to bring the schema to the head, the URL on its stdin.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from pathlib import Path

from quota_watch.store.facade import Store
from quota_watch.store.models import StoreError
from quota_watch.store.revision import HEAD_REVISION
from quota_watch.store.urls import mask_url_text

__all__ = ["main", "migrate_in_child", "open_migrated"]

log = logging.getLogger("quota_watch.store.store")  # the name migration log lines always had

_CHILD_MODULE = "quota_watch.store.migrator"
_FAILED = 3  # the child's exit code for a StoreError, its message on stderr
_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent.parent)


class _ChildUnavailable(Exception):
    """The child could not run the migration (no interpreter, crashed, killed)."""


async def open_migrated(url: str) -> Store:
    """Open the store at `url` with its schema at HEAD_REVISION, migrating in a child process.

    If no child can be run (no interpreter to spare, or it died without saying why), the
    migration runs in this process after all, as :meth:`Store.open` would have done.
    """
    store = await Store.open(url, migrate=False)
    try:
        current = await store.schema_revision()
        if current != HEAD_REVISION:
            try:
                await migrate_in_child(url)
            except _ChildUnavailable as exc:
                log.warning("migrating in this process instead: %s", exc)
                await store.migrate()  # logs the migration itself
            else:
                log.info(
                    "migrated %s from schema %s to %s in a child process",
                    store.display_url,
                    current or "(empty)",
                    HEAD_REVISION,
                )
            revision = await store.schema_revision()
            if revision != HEAD_REVISION:
                raise StoreError(
                    f"migrating {store.display_url} left schema revision {revision}, "
                    f"not {HEAD_REVISION}"
                )
    except BaseException:
        await store.close()
        raise
    return store


async def migrate_in_child(url: str) -> str:
    """Run the migrations of the store at `url` in a child interpreter; the revision it is at.

    StoreError with the child's message when the migration failed (or the database is newer
    than this release); _ChildUnavailable when the child could not do the work at all.
    """
    env = dict(os.environ)
    # The child imports the very package this process runs, wherever it was imported from.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
    try:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            _CHILD_MODULE,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
    except OSError as exc:
        raise _ChildUnavailable(f"cannot start a child process: {exc}") from exc
    try:
        # The URL may hold a password: stdin, never argv or the environment.
        out, err = await child.communicate(url.encode())
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            child.kill()
        await child.wait()
        raise
    message = err.decode(errors="replace").strip()
    if child.returncode == _FAILED:
        raise StoreError(message or "schema migration failed in the child process")
    if child.returncode != 0:
        last = message.splitlines()[-1] if message else f"exit code {child.returncode}"
        raise _ChildUnavailable(f"the migration child failed: {mask_url_text(last)}")
    return out.decode().strip()


def main() -> int:
    """The child: migrate the store whose URL is on stdin, print the revision it is at."""
    from quota_watch.store.admin import migrate

    url = sys.stdin.read().strip()
    try:
        revision = asyncio.run(migrate(url))
    except StoreError as exc:
        sys.stderr.write(f"{exc}\n")
        return _FAILED
    sys.stdout.write(f"{revision}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
