"""A fresh PostgreSQL database per test, from QUOTA_WATCH_TEST_PG_URL (fails, never skips,
when the variable is set and the server is unreachable)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.engine import make_url

PG_URL_ENV = "QUOTA_WATCH_TEST_PG_URL"


def pg_base_url() -> str:
    """The server URL, or skip the test when the variable is unset."""
    base = os.environ.get(PG_URL_ENV)
    if not base:
        pytest.skip(f"{PG_URL_ENV} is not set (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    return base


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """The URL of a new, empty database, dropped (with its sessions) afterwards."""
    base = pg_base_url()
    name = f"qw_test_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(_dsn(base))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        admin = await asyncpg.connect(_dsn(base))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def create_database() -> str:
    """Synchronous form for process tests: the URL of a new, empty database."""
    base = pg_base_url()
    name = f"qw_cluster_{secrets.token_hex(6)}"
    asyncio.run(_admin(base, f'CREATE DATABASE "{name}"'))
    return make_url(base).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop the database of `url` and end its sessions."""
    name = make_url(url).database
    asyncio.run(_admin(pg_base_url(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(base: str, sql: str) -> None:
    admin = await asyncpg.connect(_dsn(base))
    try:
        await admin.execute(sql)
    finally:
        await admin.close()


def query(url: str, sql: str, *args: Any) -> list[Any]:
    """Rows of one query on the database of `url` (a new connection each time)."""

    async def run() -> list[Any]:
        conn = await asyncpg.connect(_dsn(url))
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    return asyncio.run(run())
