"""Shared fixtures of the core tests: a store URL per backend and an opened store."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.engine import make_url

from quota_watch.store.facade import Store

PG_URL_ENV = "QUOTA_WATCH_TEST_PG_URL"


def _asyncpg_dsn(url: str) -> str:
    """The DSN asyncpg itself accepts (no +driver suffix)."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A URL of an empty database: a SQLite file, or a fresh PostgreSQL database dropped after.

    PostgreSQL is skipped when QUOTA_WATCH_TEST_PG_URL is unset; when it is set, an unreachable
    server makes the test fail, not skip.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'quota-watch.db'}"
        return
    base = os.environ.get(PG_URL_ENV)
    if not base:
        pytest.skip(f"{PG_URL_ENV} is not set (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    name = f"qw_test_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(_asyncpg_dsn(base))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        admin = await asyncpg.connect(_asyncpg_dsn(base))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    """An opened, migrated store on each backend; closed after the test."""
    opened = await Store.open(store_url)
    try:
        yield opened
    finally:
        await opened.close()
