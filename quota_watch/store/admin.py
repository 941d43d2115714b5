"""Administration of a store given by its URL: migrate it, back it up, locate its SQLite file."""

from __future__ import annotations

from pathlib import Path

from quota_watch.store.models import StoreError


async def migrate(url: str) -> str:
    """Apply the pending schema migrations to the store at `url`; the revision it is at."""
    from quota_watch.store.facade import Store

    store = await Store.open(url, migrate=False)
    try:
        return await store.migrate()
    finally:
        await store.close()


async def backup(url: str, path: Path) -> None:
    """Copy the SQLite store at `url` online to a new file at `path`."""
    from quota_watch.store.facade import Store

    store = await Store.open(url, migrate=False)
    try:
        await store.backup(path)
    finally:
        await store.close()


def sqlite_target(url: str) -> Path:
    """The database file of a SQLite store URL (StoreError for any other URL)."""
    from quota_watch.store.urls import mask_url_text, parse_database_url

    path = parse_database_url(url).sqlite_path
    if path is None:
        raise StoreError(f"not a SQLite URL: {mask_url_text(url)}")
    return path
