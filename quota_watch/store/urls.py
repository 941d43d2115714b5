"""Database URL handling: normalise to the async drivers, mask passwords for display."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from quota_watch.store.models import StoreError

__all__ = ["DatabaseURL", "mask_url_text", "parse_database_url"]

_SQLITE_SCHEMES = frozenset({"sqlite", "sqlite+aiosqlite"})
_PG_SCHEMES = frozenset({"postgres", "postgresql", "postgresql+asyncpg"})
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^:/@\s]*):[^@\s]*@")


_QUERY_SECRET = re.compile(r"(?i)([?&][^=&\s]*(?:pass|secret|token|key)[^=&\s]*=)[^&\s'\"]*")


def mask_url_text(text: str) -> str:
    """Replace the password of every URL in `text` (user-info or a ?password= style query
    value) with ***."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    return _QUERY_SECRET.sub(lambda m: f"{m.group(1)}***", text)


@dataclass(frozen=True, slots=True)
class DatabaseURL:
    """A parsed, normalised database URL."""

    dialect: str  # "sqlite" | "postgresql"
    url: URL  # the async-driver URL the engine is created with (read-write form)
    display: str  # what logs and messages show: password masked
    sqlite_path: Path | None  # absolute database file for SQLite
    password: str | None  # kept only to scrub it from driver messages

    def readonly_url(self) -> URL:
        """The URL opening this database read-only (SQLite: a mode=ro file URI)."""
        if self.sqlite_path is None:
            return self.url
        return URL.create(
            "sqlite+aiosqlite",
            database="file:" + quote(str(self.sqlite_path), safe="/"),
            query={"mode": "ro", "uri": "true"},
        )


def parse_database_url(text: str) -> DatabaseURL:
    """Parse a sqlite:// or postgresql:// URL into its async-driver form.

    ``sqlite:///relative.db`` is relative to the working directory and
    ``sqlite:////abs/path.db`` is absolute (SQLAlchemy's convention).
    """
    try:
        url = make_url(text.strip())
    except (ArgumentError, ValueError):  # not chained: the driver's message may hold the URL
        raise StoreError(f"not a database URL: {mask_url_text(text)!r}") from None
    scheme = url.drivername.lower()
    if scheme in _SQLITE_SCHEMES:
        return _sqlite(url)
    if scheme in _PG_SCHEMES:
        return _postgresql(url)
    raise StoreError(
        f"unsupported database URL scheme {url.drivername!r} in "
        f"{url.render_as_string(hide_password=True)!r}: use sqlite:///path/to/file.db or "
        "postgresql://user@host:5432/dbname"
    )


def _sqlite(url: URL) -> DatabaseURL:
    database = url.database or ""
    if database in {"", ":memory:"} or database.startswith("file:"):
        raise StoreError(
            "SQLite needs a database file path, e.g. sqlite:////var/lib/quota-watch/quota-watch.db "
            "(in-memory and file: URI forms are not supported)"
        )
    if url.query:
        raise StoreError(f"SQLite URL options are not supported: {sorted(url.query)}")
    path = Path(database).expanduser().resolve()
    return DatabaseURL(
        dialect="sqlite",
        url=URL.create("sqlite+aiosqlite", database=str(path)),
        display=f"sqlite:///{path}",
        sqlite_path=path,
        password=None,
    )


def _postgresql(url: URL) -> DatabaseURL:
    query = dict(url.query)
    # asyncpg does not understand libpq's sslmode; its `ssl` argument takes the same words.
    if "sslmode" in query:
        query["ssl"] = query.pop("sslmode")
    normalised = url.set(drivername="postgresql+asyncpg", query=query)
    display = mask_url_text(
        normalised.set(drivername="postgresql").render_as_string(hide_password=True)
    )
    return DatabaseURL(
        dialect="postgresql",
        url=normalised,
        display=display,
        sqlite_path=None,
        password=url.password or _query_password(query) or None,
    )


def _query_password(query: dict[str, str | tuple[str, ...]]) -> str | None:
    value = query.get("password")
    return value if isinstance(value, str) else None
