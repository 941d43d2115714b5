"""Shared fixtures of the core tests: a store URL per backend and an opened store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from quota_watch.store.facade import Store
from tests.support.pgdb import fresh_database


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
    async with fresh_database() as url:
        yield url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    """An opened, migrated store on each backend; closed after the test."""
    opened = await Store.open(store_url)
    try:
        yield opened
    finally:
        await opened.close()
