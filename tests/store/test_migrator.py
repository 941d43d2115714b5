"""The daemon's start-up migrations run in a child process; at head, no child and no Alembic."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection

from quota_watch.store import migrator
from quota_watch.store.facade import Store
from quota_watch.store.models import StoreError
from quota_watch.store.revision import HEAD_REVISION

_OPEN_IN_A_FRESH_INTERPRETER = textwrap.dedent(
    """
    import asyncio, json, sys
    from quota_watch.store.migrator import open_migrated

    async def main():
        store = await open_migrated(sys.stdin.read())
        try:
            return await store.schema_revision()
        finally:
            await store.close()

    revision = asyncio.run(main())
    loaded = sorted({m.split(".")[0] for m in sys.modules} & {"alembic", "mako"})
    print(json.dumps({"revision": revision, "loaded": loaded}))
    """
)


def _alembic_upgrade(revision: str) -> Any:
    def go(conn: Connection) -> None:
        from alembic import command

        from quota_watch.store._migrate import alembic_config

        command.upgrade(alembic_config(conn), revision)

    return go


def test_a_fresh_database_is_migrated_without_alembic_in_the_process(store_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _OPEN_IN_A_FRESH_INTERPRETER],
        input=store_url,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(done.stdout) == {"revision": HEAD_REVISION, "loaded": []}, done.stderr


async def test_an_old_schema_is_upgraded_by_the_child(
    store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="quota_watch.store.store")
    async with await Store.open(store_url, migrate=False) as old:
        async with old.engine.begin() as conn:
            await conn.run_sync(_alembic_upgrade("0002"))
        assert await old.schema_revision() == "0002"
    store = await migrator.open_migrated(store_url)
    try:
        assert await store.schema_revision() == HEAD_REVISION
        assert await store.latest() == []  # the tables of the head revision are there
    finally:
        await store.close()
    assert f"from schema 0002 to {HEAD_REVISION} in a child process" in caplog.text


async def test_at_head_no_child_is_started(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async with await Store.open(store_url) as store:
        assert await store.schema_revision() == HEAD_REVISION

    async def no_child(url: str) -> str:
        raise AssertionError("a child was started for a database at head")

    monkeypatch.setattr(migrator, "migrate_in_child", no_child)
    store = await migrator.open_migrated(store_url)
    await store.close()


async def test_a_newer_schema_is_refused_with_the_childs_reason(store_url: str) -> None:
    async with await Store.open(store_url) as store, store.engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreError, match="'9999', which this quota-watch does not know"):
        await migrator.open_migrated(store_url)


async def test_without_a_child_the_migration_runs_here(
    store_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    store = await migrator.open_migrated(store_url)
    try:
        assert await store.schema_revision() == HEAD_REVISION
    finally:
        await store.close()
    assert "migrating in this process instead: cannot start a child process" in caplog.text


async def test_a_child_that_dies_leaves_the_migration_to_this_process(
    store_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A child that fails before it migrates anything, here by running a module that is not there.
    monkeypatch.setattr(migrator, "_CHILD_MODULE", "quota_watch.no_such_module")
    store = await migrator.open_migrated(store_url)
    try:
        assert await store.schema_revision() == HEAD_REVISION
    finally:
        await store.close()
    assert "the migration child failed: " in caplog.text
    assert "No module named quota_watch.no_such_module" in caplog.text
