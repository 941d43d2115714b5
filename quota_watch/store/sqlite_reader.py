"""A read-only reader of a SQLite store on the standard library's sqlite3, for the report.

It answers the read queries the report needs exactly as :class:`~quota_watch.store.facade.Store`
does: both run the same SQL and row mappings (``store.queries``; a test holds the two to the
same results), but this one without importing SQLAlchemy, whose import alone is most of the
report's budget. It opens the file with a ``mode=ro`` URI and ``query_only``, so it never
writes, and in WAL mode it reads beside the daemon without blocking it.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator, Collection, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import quote

from quota_watch.model import AccountStatus, AlertState, SeriesKey, Silence
from quota_watch.store import queries
from quota_watch.store.common import BUSY_TIMEOUT_MS
from quota_watch.store.models import Point, RollupPoint, StoredForecast, StoredReading, StoreError
from quota_watch.store.revision import HEAD_REVISION

__all__ = ["ReadStore", "SQLiteReader", "simple_sqlite_path"]

# The plain forms only; anything else (query options, escapes) goes through SQLAlchemy's parser.
_SIMPLE_URL = re.compile(r"^sqlite(?:\+aiosqlite)?:///(?P<path>[^?#%]+)$")


class ReadStore(Protocol):
    """The read queries the report and the positions use: Store and SQLiteReader both have
    them."""

    async def close(self) -> None:
        """Release the connection(s)."""
        ...

    async def latest(self, *, accounts: Collection[str] | None = None) -> list[StoredReading]:
        """The newest reading of every series (of `accounts` if given)."""
        ...

    async def account_statuses(self, *, account: str | None = None) -> list[AccountStatus]:
        """Poll health of every account (or just `account`)."""
        ...

    async def load_alerts(
        self, *, account: str | None = None, include_resolved: bool = False
    ) -> list[AlertState]:
        """Stored alert states."""
        ...

    async def forecasts_of_accounts(
        self, accounts: Collection[str]
    ) -> dict[SeriesKey, StoredForecast]:
        """The latest stored forecast of every series of `accounts`."""
        ...

    async def list_silences(self, now: datetime, *, include_expired: bool = False) -> list[Silence]:
        """Silences not yet ended at `now` (active or future), by id."""
        ...

    async def samples_of_accounts(
        self, accounts: Collection[str], since: datetime, until: datetime
    ) -> dict[SeriesKey, list[Point]]:
        """Raw samples of every series of `accounts`."""
        ...

    async def oldest_samples(
        self, accounts: Collection[str], since: datetime
    ) -> dict[str, datetime]:
        """Account -> its oldest raw sample's time at or after `since` (none: left out)."""
        ...

    async def rollups_of_accounts(
        self, accounts: Collection[str], granularity: Literal["hour", "day"], since: datetime
    ) -> dict[SeriesKey, list[RollupPoint]]:
        """Hourly or daily buckets of every series of `accounts`."""
        ...

    async def daily_maxima(
        self, accounts: Collection[str], since: datetime
    ) -> dict[SeriesKey, list[tuple[datetime, float]]]:
        """The largest value of every UTC day the rollups hold, of every series of `accounts`."""
        ...


def simple_sqlite_path(url: str) -> Path | None:
    """The database file of a plain ``sqlite:///path`` URL (resolved as the Store resolves
    it), or None for any other URL."""
    match = _SIMPLE_URL.match(url.strip())
    if match is None or match["path"] == ":memory:" or match["path"].startswith("file:"):
        return None
    return Path(match["path"]).expanduser().resolve()


class SQLiteReader:
    """Read-only queries on a SQLite store file; the read API of Store, without SQLAlchemy."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        """Use :meth:`open`."""
        self.path = path
        self.display_url = f"sqlite:///{path}"
        self._conn = connection

    @classmethod
    def open(cls, path: Path) -> SQLiteReader:
        """Open `path` read-only; StoreError if it is missing or not at HEAD_REVISION."""
        display = f"sqlite:///{path}"
        if not path.is_file():
            raise StoreError(f"cannot open database at {display}: no such file")
        try:
            conn = sqlite3.connect(
                f"file:{quote(str(path), safe='/')}?mode=ro",
                uri=True,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database at {display}: {exc}") from exc
        reader = cls(path, conn)
        try:
            with reader._errors("cannot open database at", prefix=True):
                conn.execute("PRAGMA query_only = ON")
                has_version = conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
                ).fetchone()
                row = (
                    conn.execute("SELECT version_num FROM alembic_version").fetchone()
                    if has_version
                    else None
                )
            revision = None if row is None else str(row[0])
            if revision is None:
                raise StoreError(
                    f"database at {display} has no quota-watch schema yet; start the "
                    "daemon or run `quota-watch db migrate` first"
                )
            if revision != HEAD_REVISION:
                raise StoreError(
                    f"database at {display} has schema revision {revision}, this "
                    f"quota-watch needs {HEAD_REVISION}; run `quota-watch db migrate`"
                )
        except BaseException:
            conn.close()
            raise
        return reader

    async def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    @contextmanager
    def _errors(self, action: str, *, prefix: bool = False) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            where = (
                f"{action} {self.display_url}"
                if prefix
                else f"{action} failed on {self.display_url}"
            )
            raise StoreError(f"{where}: {exc}") from exc

    @asynccontextmanager
    async def _reading(self, action: str) -> AsyncIterator[queries.Rows]:
        """A `Rows` for the shared read queries, all in one read transaction."""
        with self._errors(action):
            self._conn.execute("BEGIN")
            try:

                async def rows(sql: str, params: Mapping[str, Any]) -> Sequence[Sequence[Any]]:
                    bound = queries.bind_params(params, "sqlite")
                    return self._conn.execute(sql, bound).fetchall()

                yield rows
            finally:
                self._conn.execute("COMMIT")

    async def latest(self, *, accounts: Collection[str] | None = None) -> list[StoredReading]:
        """The newest reading of every series (of `accounts` if given)."""
        async with self._reading("reading the latest values") as rows:
            return await queries.latest(rows, accounts)

    async def account_statuses(self, *, account: str | None = None) -> list[AccountStatus]:
        """Poll health of every account (or just `account`) that has run, by account name."""
        async with self._reading("reading account status") as rows:
            return await queries.account_statuses(rows, account)

    async def load_alerts(
        self, *, account: str | None = None, include_resolved: bool = False
    ) -> list[AlertState]:
        """Stored alert states (of `account` if given), by account and fingerprint; resolved
        ones only with `include_resolved`."""
        async with self._reading("loading alert state") as rows:
            return await queries.load_alerts(rows, account, include_resolved)

    async def forecasts_of_accounts(
        self, accounts: Collection[str]
    ) -> dict[SeriesKey, StoredForecast]:
        """The latest stored forecast of every series of `accounts`."""
        async with self._reading("reading forecasts") as rows:
            return await queries.forecasts_of_accounts(rows, accounts)

    async def list_silences(self, now: datetime, *, include_expired: bool = False) -> list[Silence]:
        """Silences not yet ended at `now` (active or future), by id; or all, if include_expired."""
        async with self._reading("listing silences") as rows:
            return await queries.list_silences(rows, now, include_expired)

    async def samples_of_accounts(
        self, accounts: Collection[str], since: datetime, until: datetime
    ) -> dict[SeriesKey, list[Point]]:
        """Raw samples with since <= ts < until of every series of `accounts`, oldest first."""
        async with self._reading("reading samples") as rows:
            return await queries.samples_of_accounts(rows, accounts, since, until)

    async def oldest_samples(
        self, accounts: Collection[str], since: datetime
    ) -> dict[str, datetime]:
        """Account -> its oldest raw sample's time at or after `since` (none: left out)."""
        async with self._reading("reading samples") as rows:
            return await queries.oldest_samples(rows, accounts, since)

    async def daily_maxima(
        self, accounts: Collection[str], since: datetime
    ) -> dict[SeriesKey, list[tuple[datetime, float]]]:
        """Per series of `accounts` and UTC day from `since` on: the largest value the rollups
        hold (as Store.daily_maxima)."""
        async with self._reading("reading rollups") as rows:
            return await queries.daily_maxima(rows, "sqlite", accounts, since)

    async def rollups_of_accounts(
        self,
        accounts: Collection[str],
        granularity: Literal["hour", "day"],
        since: datetime,
    ) -> dict[SeriesKey, list[RollupPoint]]:
        """Hourly or daily buckets starting at or after `since` of every series of `accounts`."""
        async with self._reading("reading rollups") as rows:
            return await queries.rollups_of_accounts(rows, accounts, granularity, since)
