"""A fresh PostgreSQL database per test, from QUOTA_WATCH_TEST_PG_URL (fails, never skips,
when the variable is set and the server is unreachable)."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator

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
    name = f"qw_cluster_{secrets.token_hex(6)}"
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
