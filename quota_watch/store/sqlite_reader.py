"""A read-only reader of a SQLite store on the standard library's sqlite3, for the report.

It answers the read queries the report needs exactly as :class:`~quota_watch.store.Store`
does (same arguments, same results: a test holds the two to that), without importing
SQLAlchemy, whose import alone is most of the report's budget. It opens the file with a
``mode=ro`` URI and ``query_only``, so it never writes, and in WAL mode it reads beside the
daemon without blocking it.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import quote

from quota_watch.model import AccountStatus, AlertState
from quota_watch.store.models import (
    LatestReading,
    Point,
    RollupPoint,
    StoredForecast,
    StoreError,
)
from quota_watch.store.revision import HEAD_REVISION

__all__ = ["ReadStore", "SQLiteReader", "simple_sqlite_path"]

_BUSY_TIMEOUT_S = 5.0
_IN_CHUNK = 500
# The plain forms only; anything else (query options, escapes) goes through SQLAlchemy's parser.
_SIMPLE_URL = re.compile(r"^sqlite(?:\+aiosqlite)?:///(?P<path>[^?#%]+)$")
_ALERT_FIELDS = tuple(f.name for f in dataclasses.fields(AlertState))
_ALERT_TIMES = frozenset(
    f.name for f in dataclasses.fields(AlertState) if "datetime" in str(f.type)
)
_FORECAST_FIELDS = tuple(
    f.name
    for f in dataclasses.fields(StoredForecast)
    if f.name not in ("account", "limit", "resource")
)


SeriesKey = tuple[str, str, str | None]


class ReadStore(Protocol):
    """The read queries the report and the positions use: Store and SQLiteReader both have
    them."""

    async def close(self) -> None:
        """Release the connection(s)."""
        ...

    async def latest(self, *, accounts: Collection[str] | None = None) -> list[LatestReading]:
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

    async def samples_of_accounts(
        self, accounts: Collection[str], since: datetime, until: datetime
    ) -> dict[SeriesKey, list[Point]]:
        """Raw samples of every series of `accounts`."""
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


def _ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value + "+00:00")


def _need_ts(value: str) -> datetime:
    return datetime.fromisoformat(value + "+00:00")


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start : start + _IN_CHUNK]


def _marks(count: int) -> str:
    return ", ".join("?" * count)


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
                timeout=_BUSY_TIMEOUT_S,
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

    def _query(self, action: str, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._errors(action):
            return self._conn.execute(sql, params).fetchall()

    def _by_accounts(
        self, action: str, sql: str, accounts: Collection[str], *head: Any
    ) -> list[Any]:
        """Rows of `sql` (whose last condition is `account IN ({marks})`) for every chunk of
        `accounts`, one read transaction for all chunks."""
        rows: list[Any] = []
        with self._errors(action):
            self._conn.execute("BEGIN")
            try:
                for chunk in _chunks(sorted(accounts)):
                    query = sql.format(marks=_marks(len(chunk)))
                    rows.extend(self._conn.execute(query, (*head, *chunk)).fetchall())
            finally:
                self._conn.execute("COMMIT")
        return rows

    async def latest(self, *, accounts: Collection[str] | None = None) -> list[LatestReading]:
        """The newest reading of every series (of `accounts` if given)."""
        columns = (
            'provider, account, "limit", resource, unit, measure, last_value, last_cap, '
            "cap_source, period_start, period_end, last_ts"
        )
        order = ' ORDER BY account, "limit", resource'
        if accounts is None:
            rows = self._query("reading the latest values", f"SELECT {columns} FROM series{order}")
        elif not accounts:
            return []
        else:
            rows = self._by_accounts(
                "reading the latest values",
                f"SELECT {columns} FROM series WHERE account IN ({{marks}})",
                accounts,
            )
            rows.sort(key=lambda r: (r[1], r[2], r[3]))
        return [
            LatestReading(p, a, lim, res or None, u, m, v, cap, src, _ts(ps), _ts(pe), _need_ts(ts))
            for p, a, lim, res, u, m, v, cap, src, ps, pe, ts in rows
        ]

    async def account_statuses(self, *, account: str | None = None) -> list[AccountStatus]:
        """Poll health of every account (or just `account`) that has run, by account name."""
        sql = (
            "SELECT provider, account, last_run_at, last_success_at, last_outcome, last_error, "
            "last_duration_seconds, runs_total, failures_total, consecutive_failures "
            "FROM account_status"
        )
        params: tuple[str, ...] = ()
        if account is not None:
            sql += " WHERE account = ?"
            params = (account,)
        rows = self._query("reading account status", sql + " ORDER BY account", params)
        return [
            AccountStatus(
                provider=p,
                account=a,
                last_run_at=_need_ts(run),
                last_success_at=_ts(success),
                last_outcome=outcome,
                last_error=error,
                last_duration_seconds=duration,
                runs_total=runs,
                failures_total=failures,
                consecutive_failures=consecutive,
            )
            for p, a, run, success, outcome, error, duration, runs, failures, consecutive in rows
        ]

    async def load_alerts(
        self, *, account: str | None = None, include_resolved: bool = False
    ) -> list[AlertState]:
        """Stored alert states (of `account` if given), by account and fingerprint; resolved
        ones only with `include_resolved`."""
        conditions = []
        params: list[str] = []
        if account is not None:
            conditions.append("account = ?")
            params.append(account)
        if not include_resolved:
            conditions.append("status != 'resolved'")
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        columns = ", ".join(f'"{name}"' for name in _ALERT_FIELDS)
        rows = self._query(
            "loading alert state",
            f"SELECT {columns} FROM alert_state{where} ORDER BY account, fingerprint",
            params,
        )
        states = []
        for row in rows:
            data = dict(zip(_ALERT_FIELDS, row, strict=True))
            for name in _ALERT_TIMES:
                data[name] = _ts(data[name])
            states.append(AlertState(**data))
        return states

    async def forecasts_of_accounts(
        self, accounts: Collection[str]
    ) -> dict[tuple[str, str, str | None], StoredForecast]:
        """The latest stored forecast of every series of `accounts`."""
        if not accounts:
            return {}
        columns = ", ".join(f"f.{name}" for name in _FORECAST_FIELDS)
        rows = self._by_accounts(
            "reading forecasts",
            f'SELECT s.account, s."limit", s.resource, {columns} FROM series_forecast AS f '
            "JOIN series AS s ON s.id = f.series_id WHERE s.account IN ({marks})",
            accounts,
        )
        found = {}
        for account, limit, resource, *values in rows:
            data = dict(zip(_FORECAST_FIELDS, values, strict=True))
            data["computed_at"] = _need_ts(data["computed_at"])
            data["exhausts_at"] = _ts(data["exhausts_at"])
            data["active"] = bool(data["active"])
            if data["sustained"] is not None:
                data["sustained"] = bool(data["sustained"])
            data["notes"] = tuple(json.loads(data["notes"]))
            key = (account, limit, resource or None)
            found[key] = StoredForecast(
                account=account, limit=limit, resource=resource or None, **data
            )
        return found

    async def samples_of_accounts(
        self, accounts: Collection[str], since: datetime, until: datetime
    ) -> dict[tuple[str, str, str | None], list[Point]]:
        """Raw samples with since <= ts < until of every series of `accounts`, oldest first."""
        found: dict[tuple[str, str, str | None], list[Point]] = {}
        if not accounts:
            return found
        rows = self._by_accounts(
            "reading samples",
            'SELECT s.account, s."limit", s.resource, p.ts, p.value, p.cap FROM sample AS p '
            "JOIN series AS s ON s.id = p.series_id WHERE p.ts >= ? AND p.ts < ? "
            "AND s.account IN ({marks}) ORDER BY p.series_id, p.ts",
            accounts,
            _bind(since),
            _bind(until),
        )
        for account, limit, resource, ts, value, cap in rows:
            found.setdefault((account, limit, resource or None), []).append(
                Point(_need_ts(ts), value, cap)
            )
        return found

    async def daily_maxima(
        self, accounts: Collection[str], since: datetime
    ) -> dict[SeriesKey, list[tuple[datetime, float]]]:
        """Per series of `accounts` and UTC day from `since` on: the largest value the rollups
        hold (as Store.daily_maxima)."""
        found: dict[SeriesKey, list[tuple[datetime, float]]] = {}
        if not accounts:
            return found
        row = self._query(
            "reading rollups", "SELECT rolled_until FROM rollup_state WHERE granularity = 'day'"
        )
        hourly_since = since
        if row and row[0][0] is not None:
            folded = _need_ts(row[0][0]).replace(hour=0, minute=0, second=0, microsecond=0)
            hourly_since = max(since, folded)
        # Driven from `series` so that both reads are primary-key range scans.
        rows = self._by_accounts(
            "reading rollups",
            'SELECT s.account, s."limit", s.resource, r.bucket_start, r."max" '
            "FROM series AS s JOIN rollup_daily AS r ON r.series_id = s.id "
            "AND r.bucket_start >= ? WHERE s.account IN ({marks})",
            accounts,
            _bind(since),
        )
        rows += self._by_accounts(
            "reading rollups",
            'SELECT s.account, s."limit", s.resource, '
            "strftime('%Y-%m-%d 00:00:00.000000', r.bucket_start) AS day, max(r.\"max\") "
            "FROM series AS s JOIN rollup_hourly AS r ON r.series_id = s.id "
            "AND r.bucket_start >= ? WHERE s.account IN ({marks}) GROUP BY s.id, day",
            accounts,
            _bind(hourly_since),
        )
        tops: dict[SeriesKey, dict[str, float]] = {}
        for account, limit, resource, day, top in rows:
            days = tops.setdefault((account, limit, resource or None), {})
            known = days.get(day)
            days[day] = top if known is None else max(known, top)
        for key, days in tops.items():
            found[key] = [(_need_ts(day), days[day]) for day in sorted(days)]
        return found

    async def rollups_of_accounts(
        self,
        accounts: Collection[str],
        granularity: Literal["hour", "day"],
        since: datetime,
    ) -> dict[tuple[str, str, str | None], list[RollupPoint]]:
        """Hourly or daily buckets starting at or after `since` of every series of `accounts`."""
        table = {"hour": "rollup_hourly", "day": "rollup_daily"}.get(granularity)
        if table is None:
            raise ValueError(f"granularity must be 'hour' or 'day', got {granularity!r}")
        found: dict[tuple[str, str, str | None], list[RollupPoint]] = {}
        if not accounts:
            return found
        rows = self._by_accounts(
            "reading rollups",
            f'SELECT s.account, s."limit", s.resource, r.bucket_start, r."min", r."max", '
            f'r."last", r."count" FROM {table} AS r JOIN series AS s ON s.id = r.series_id '
            "WHERE r.bucket_start >= ? AND s.account IN ({marks}) "
            "ORDER BY r.series_id, r.bucket_start",
            accounts,
            _bind(since),
        )
        for account, limit, resource, start, low, high, last, count in rows:
            found.setdefault((account, limit, resource or None), []).append(
                RollupPoint(_need_ts(start), low, high, last, count)
            )
        return found


def _bind(moment: datetime) -> str:
    """A datetime as the store writes it on SQLite: naive UTC, fixed width (compares as text)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} must be a timezone-aware datetime")
    return moment.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
