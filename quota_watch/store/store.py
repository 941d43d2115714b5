"""The Store: async repository over SQLite (aiosqlite, WAL) or PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import math
import os
import sqlite3
import uuid
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterator,
    Mapping,
    Sequence,
)
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, TypeAlias, get_args
from urllib.parse import quote

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    case,
    delete,
    event,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
    true,
    tuple_,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from quota_watch.model import (
    SILENCE_MATCHER_KEYS,
    AccountStatus,
    AlertState,
    AlertStatus,
    MessageKind,
    OutboxMessage,
    Severity,
    Silence,
)
from quota_watch.store.models import (
    LatestReading,
    Point,
    RollupPoint,
    RunRecord,
    StoredForecast,
    StoredReading,
    StoreError,
)
from quota_watch.store.revision import HEAD_REVISION
from quota_watch.store.tables import (
    ACCOUNT_STATUS,
    ALERT_STATE,
    COLLECTOR_RUN,
    COLLECTOR_STATE,
    OUTBOX,
    ROLLUP_DAILY,
    ROLLUP_HOURLY,
    ROLLUP_STATE,
    SAMPLE,
    SERIES,
    SERIES_FORECAST,
    SILENCE,
    UTCDateTime,
)
from quota_watch.store.urls import DatabaseURL, mask_url_text, parse_database_url

__all__ = ["HEAD_REVISION", "RestoreResult", "Store", "restore_sqlite"]

log = logging.getLogger(__name__)


BUSY_TIMEOUT_MS = 5000
_MAX_ERROR_CHARS = 4000  # a run's error text is for people; a drifted payload can be huge
_MIGRATION_LOCK_KEY = 0x71775F6D69677261  # PostgreSQL advisory lock: one migrator at a time
_WRITE_OPTION = "quota_watch_write"
_HOUR = "hour"
_DAY = "day"
_FOLD_SLICE = {_HOUR: timedelta(hours=6), _DAY: timedelta(days=1)}
_SILENCE_KEEP = timedelta(days=7)  # ended silences stay listable (include_expired) this long
_IN_CHUNK = 500  # ids per IN (...) list: far below either driver's bound-parameter limit
_SEVERITIES = frozenset(get_args(Severity))
_ALERT_STATUSES = frozenset(get_args(AlertStatus))
_MESSAGE_KINDS = frozenset(get_args(MessageKind))
_ALERT_FIELDS = tuple(f.name for f in dataclasses.fields(AlertState))
_MESSAGE_FIELDS = tuple(f.name for f in dataclasses.fields(OutboxMessage))


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {value.isoformat()}")


def _floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _floor_day(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


_FLOOR: dict[str, Callable[[datetime], datetime]] = {_HOUR: _floor_hour, _DAY: _floor_day}

_Cutoff: TypeAlias = Callable[[AsyncConnection], Awaitable[datetime | None]]


def _truncate(message: str | None) -> str | None:
    if message is None or len(message) <= _MAX_ERROR_CHARS:
        return message
    return message[: _MAX_ERROR_CHARS - 1] + "…"


class Store:
    """Repository of series, samples, rollups, runs, account status and collector state.

    Create it with ``await Store.open(url)``; every method is a short transaction.
    """

    dialect: str
    display_url: str
    readonly: bool
    _delete_batch: int = 20_000  # rows per retention DELETE: keeps SQLite's write lock short

    def __init__(self, parsed: DatabaseURL, *, readonly: bool) -> None:
        """Use :meth:`open`; this only builds the engine, it does not connect."""
        self._parsed = parsed
        self.dialect = parsed.dialect
        self.display_url = parsed.display
        self.readonly = readonly
        self._engine = _create_engine(parsed, readonly=readonly)
        # SQLite has one writer: serialising writers in-process means they queue here instead
        # of spinning on busy_timeout in a thread.
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.dialect == "sqlite" else None
        self._forecast_upsert: Any = None

    # --- life cycle ---------------------------------------------------------------------------

    @classmethod
    async def open(cls, url: str, *, readonly: bool = False, migrate: bool = True) -> Store:
        """Connect to `url`, and bring the schema to HEAD_REVISION unless readonly or migrate=False.

        A read-only store (SQLite: a ``mode=ro`` connection) never migrates or writes and
        refuses a schema that is not at HEAD_REVISION.
        """
        parsed = parse_database_url(url)
        if parsed.sqlite_path is not None:
            await asyncio.to_thread(_prepare_sqlite_file, parsed, readonly)
        store = cls(parsed, readonly=readonly)
        try:
            with store._errors(prefix=f"cannot open database at {parsed.display}"):
                async with store._engine.connect() as conn:
                    revision = await store._read_revision(conn)
            if readonly:
                if revision is None:
                    raise StoreError(
                        f"database at {parsed.display} has no quota-watch schema yet; start the "
                        "daemon or run `quota-watch db migrate` first"
                    )
                if revision != HEAD_REVISION:
                    raise StoreError(
                        f"database at {parsed.display} has schema revision {revision}, this "
                        f"quota-watch needs {HEAD_REVISION}; run `quota-watch db migrate`"
                    )
            elif migrate and revision != HEAD_REVISION:
                await store.migrate()
        except BaseException:
            await store.close()
            raise
        return store

    async def close(self) -> None:
        """Close every pooled connection."""
        await self._engine.dispose()

    async def __aenter__(self) -> Self:
        """Use the store as an async context manager that closes it on exit."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the store."""
        await self.close()

    @property
    def engine(self) -> AsyncEngine:
        """The underlying SQLAlchemy async engine (for tables that other modules add)."""
        return self._engine

    # --- schema -------------------------------------------------------------------------------

    async def schema_revision(self) -> str | None:
        """The Alembic revision the database is at, or None for an empty database."""
        with self._errors("reading the schema revision"):
            async with self._engine.connect() as conn:
                return await self._read_revision(conn)

    async def migrate(self) -> str:
        """Upgrade the schema to the newest revision and return it (imports Alembic only here)."""
        if self.readonly:
            raise StoreError(f"cannot migrate {self.display_url}: the store was opened read-only")
        with self._errors("migrating the schema"):
            async with self._write() as conn:
                if self.dialect == "postgresql":
                    await conn.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
                    )
                current = await self._read_revision(conn)
                if current != HEAD_REVISION:
                    if current is not None and not _known_revision(current):
                        raise StoreError(_newer_schema(self.display_url, current))
                    from quota_watch.store import _migrate  # heavy: only when there is work

                    log.info(
                        "migrating %s from schema %s to %s",
                        self.display_url,
                        current or "(empty)",
                        HEAD_REVISION,
                    )
                    await conn.run_sync(_migrate.upgrade, current)
                revision = await self._read_revision(conn)
        if revision is None:  # pragma: no cover - Alembic always stamps
            raise StoreError(f"migrating {self.display_url} left no schema revision")
        return revision

    async def _read_revision(self, conn: AsyncConnection) -> str | None:
        if self.dialect == "sqlite":
            exists = await conn.scalar(
                text(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
                )
            )
        else:
            exists = await conn.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL"))
        if not exists:
            return None
        revision = await conn.scalar(text("SELECT version_num FROM alembic_version"))
        return None if revision is None else str(revision)

    # --- writing a poll -----------------------------------------------------------------------

    async def record_poll(
        self,
        run: RunRecord,
        readings: Sequence[StoredReading],
        state: Mapping[str, Any] | None = None,
    ) -> None:
        """Store one poll in ONE transaction: samples, series, the run, account status and state.

        `state` replaces the account's whole collector state (keys not in it are removed);
        None leaves it untouched. Of several readings of one series with the same ts the last
        one wins; a series' latest columns only move forward in time.
        """
        for reading in readings:
            if reading.account != run.account:
                raise ValueError(
                    f"reading {reading.limit!r} is for account {reading.account!r}, "
                    f"but the run is for {run.account!r}"
                )
        state_rows = None if state is None else _encode_state(run.account, state)
        newest: dict[tuple[str, str], StoredReading] = {}
        by_sample: dict[tuple[str, str, datetime], StoredReading] = {}
        for reading in readings:
            key = (reading.limit, reading.resource or "")
            current = newest.get(key)
            if current is None or reading.ts >= current.ts:
                newest[key] = reading
            by_sample[(*key, reading.ts)] = reading

        with self._errors("recording a poll"):
            async with self._write() as conn:
                if newest:
                    await conn.execute(
                        self._series_upsert(), [_series_params(r) for r in newest.values()]
                    )
                    ids = {
                        (limit, resource): series_id
                        for series_id, limit, resource in await conn.execute(
                            select(SERIES.c.id, SERIES.c.limit, SERIES.c.resource).where(
                                SERIES.c.account == run.account
                            )
                        )
                    }
                    await conn.execute(
                        self._sample_upsert(),
                        [
                            {
                                "series_id": ids[(limit, resource)],
                                "ts": ts,
                                "value": r.value,
                                "cap": r.cap,
                            }
                            for (limit, resource, ts), r in by_sample.items()
                        ],
                    )
                    await conn.execute(_lower_watermarks(min(by_sample[k].ts for k in by_sample)))
                await conn.execute(insert(COLLECTOR_RUN), _run_params(run))
                await conn.execute(self._status_upsert(), _status_params(run))
                if state_rows is not None:
                    await conn.execute(
                        delete(COLLECTOR_STATE).where(COLLECTOR_STATE.c.account == run.account)
                    )
                    if state_rows:
                        await conn.execute(insert(COLLECTOR_STATE), state_rows)

    def _insert(self, table: Table) -> sqlite.Insert | postgresql.Insert:
        return sqlite.insert(table) if self.dialect == "sqlite" else postgresql.insert(table)

    def _series_upsert(self) -> Any:
        stmt = self._insert(SERIES)
        keys = ("account", "limit", "resource")
        return stmt.on_conflict_do_update(
            index_elements=list(keys),
            set_={c.name: stmt.excluded[c.name] for c in SERIES.c if c.name not in {"id", *keys}},
            where=SERIES.c.last_ts <= stmt.excluded.last_ts,
        )

    def _sample_upsert(self) -> Any:
        stmt = self._insert(SAMPLE)
        return stmt.on_conflict_do_update(
            index_elements=["series_id", "ts"],
            set_={"value": stmt.excluded.value, "cap": stmt.excluded.cap},
        )

    def _status_upsert(self) -> Any:
        stmt = self._insert(ACCOUNT_STATUS)
        old, new = ACCOUNT_STATUS.c, stmt.excluded
        return stmt.on_conflict_do_update(
            index_elements=["account"],
            set_={
                "provider": new.provider,
                "last_run_at": new.last_run_at,
                "last_success_at": func.coalesce(new.last_success_at, old.last_success_at),
                "last_outcome": new.last_outcome,
                "last_error": new.last_error,
                "last_duration_seconds": new.last_duration_seconds,
                "runs_total": old.runs_total + 1,
                "failures_total": old.failures_total + new.failures_total,
                "consecutive_failures": case(
                    (new.consecutive_failures == 0, 0), else_=old.consecutive_failures + 1
                ),
            },
        )

    # --- reading ------------------------------------------------------------------------------

    async def load_state(self, account: str) -> dict[str, Any]:
        """The account's collector state as saved by the last record_poll that gave one."""
        with self._errors("loading collector state"):
            async with self._engine.connect() as conn:
                rows = await conn.execute(
                    select(COLLECTOR_STATE.c.key, COLLECTOR_STATE.c.value).where(
                        COLLECTOR_STATE.c.account == account
                    )
                )
                return {key: json.loads(value) for key, value in rows}

    async def latest(self, *, accounts: Collection[str] | None = None) -> list[LatestReading]:
        """The newest reading of every series (of `accounts` if given): one scan of `series`."""
        stmt = select(
            SERIES.c.provider,
            SERIES.c.account,
            SERIES.c.limit,
            SERIES.c.resource,
            SERIES.c.unit,
            SERIES.c.measure,
            SERIES.c.last_value,
            SERIES.c.last_cap,
            SERIES.c.cap_source,
            SERIES.c.period_start,
            SERIES.c.period_end,
            SERIES.c.last_ts,
        ).order_by(SERIES.c.account, SERIES.c.limit, SERIES.c.resource)
        if accounts is not None:
            if not accounts:
                return []
            stmt = stmt.where(SERIES.c.account.in_(list(accounts)))
        with self._errors("reading the latest values"):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).all()
        return [
            LatestReading(p, a, lim, res or None, u, m, v, cap, src, ps, pe, ts)
            for p, a, lim, res, u, m, v, cap, src, ps, pe, ts in rows
        ]

    async def account_statuses(self, *, account: str | None = None) -> list[AccountStatus]:
        """Poll health of every account (or just `account`) that has run, by account name."""
        c = ACCOUNT_STATUS.c
        stmt = select(
            c.provider,
            c.account,
            c.last_run_at,
            c.last_success_at,
            c.last_outcome,
            c.last_error,
            c.last_duration_seconds,
            c.runs_total,
            c.failures_total,
            c.consecutive_failures,
        ).order_by(c.account)
        if account is not None:
            stmt = stmt.where(c.account == account)
        with self._errors("reading account status"):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).all()
        return [
            AccountStatus(
                provider=provider,
                account=account,
                last_run_at=last_run_at,
                last_success_at=last_success_at,
                last_outcome=last_outcome,
                last_error=last_error,
                last_duration_seconds=duration,
                runs_total=runs,
                failures_total=failures,
                consecutive_failures=consecutive,
            )
            for (
                provider,
                account,
                last_run_at,
                last_success_at,
                last_outcome,
                last_error,
                duration,
                runs,
                failures,
                consecutive,
            ) in rows
        ]

    async def samples(
        self,
        account: str,
        limit: str,
        resource: str | None,
        since: datetime,
        until: datetime | None = None,
    ) -> list[Point]:
        """Raw samples of one series with since <= ts < until, oldest first."""
        _require_aware("since", since)
        conditions = [
            SAMPLE.c.series_id == _series_id(account, limit, resource),
            SAMPLE.c.ts >= since,
        ]
        if until is not None:
            _require_aware("until", until)
            conditions.append(SAMPLE.c.ts < until)
        stmt = (
            select(SAMPLE.c.ts, SAMPLE.c.value, SAMPLE.c.cap)
            .where(*conditions)
            .order_by(SAMPLE.c.ts)
        )
        with self._errors("reading samples"):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).all()
        return [Point(ts, value, cap) for ts, value, cap in rows]

    async def samples_of_accounts(
        self, accounts: Collection[str], since: datetime, until: datetime
    ) -> dict[tuple[str, str, str | None], list[Point]]:
        """Raw samples with since <= ts < until of every series of `accounts`, oldest first,
        by (account, limit, resource): one query instead of one per series."""
        _require_aware("since", since)
        _require_aware("until", until)
        found: dict[tuple[str, str, str | None], list[Point]] = {}
        if not accounts:
            return found
        stmt = (
            select(
                SERIES.c.account,
                SERIES.c.limit,
                SERIES.c.resource,
                SAMPLE.c.ts,
                SAMPLE.c.value,
                SAMPLE.c.cap,
            )
            .join(SERIES, SERIES.c.id == SAMPLE.c.series_id)
            .where(SAMPLE.c.ts >= since, SAMPLE.c.ts < until)
            .order_by(SAMPLE.c.series_id, SAMPLE.c.ts)
        )
        with self._errors("reading samples"):
            async with self._engine.connect() as conn:
                for chunk in _chunks(sorted(accounts)):
                    rows = await conn.execute(stmt.where(SERIES.c.account.in_(chunk)))
                    for account, limit, resource, ts, value, cap in rows:
                        key = (account, limit, resource or None)
                        found.setdefault(key, []).append(Point(ts, value, cap))
        return found

    async def rollups(
        self,
        account: str,
        limit: str,
        resource: str | None,
        granularity: Literal["hour", "day"],
        since: datetime,
    ) -> list[RollupPoint]:
        """Hourly or daily buckets of one series starting at or after `since`, oldest first."""
        _require_aware("since", since)
        table = _rollup_table(granularity)
        stmt = (
            select(
                table.c.bucket_start,
                table.c["min"],
                table.c["max"],
                table.c["last"],
                table.c["count"],
            )
            .where(
                table.c.series_id == _series_id(account, limit, resource),
                table.c.bucket_start >= since,
            )
            .order_by(table.c.bucket_start)
        )
        with self._errors("reading rollups"):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).all()
        return [RollupPoint(*row) for row in rows]

    async def rollups_of_accounts(
        self,
        accounts: Collection[str],
        granularity: Literal["hour", "day"],
        since: datetime,
    ) -> dict[tuple[str, str, str | None], list[RollupPoint]]:
        """Hourly or daily buckets starting at or after `since` of every series of `accounts`,
        oldest first, by (account, limit, resource): one query instead of one per series."""
        _require_aware("since", since)
        table = _rollup_table(granularity)
        found: dict[tuple[str, str, str | None], list[RollupPoint]] = {}
        if not accounts:
            return found
        stmt = (
            select(
                SERIES.c.account,
                SERIES.c.limit,
                SERIES.c.resource,
                table.c.bucket_start,
                table.c["min"],
                table.c["max"],
                table.c["last"],
                table.c["count"],
            )
            .join(SERIES, SERIES.c.id == table.c.series_id)
            .where(table.c.bucket_start >= since)
            .order_by(table.c.series_id, table.c.bucket_start)
        )
        with self._errors("reading rollups"):
            async with self._engine.connect() as conn:
                for chunk in _chunks(sorted(accounts)):
                    rows = await conn.execute(stmt.where(SERIES.c.account.in_(chunk)))
                    for account, limit, resource, start, low, high, last, count in rows:
                        key = (account, limit, resource or None)
                        found.setdefault(key, []).append(RollupPoint(start, low, high, last, count))
        return found

    async def daily_maxima(
        self, accounts: Collection[str], since: datetime
    ) -> dict[tuple[str, str, str | None], list[tuple[datetime, float]]]:
        """Per series of `accounts` and UTC day from `since` on: the largest value the rollups
        hold (the daily bucket, or the hourly buckets of a day not folded into a daily one
        yet), oldest first. Samples not rolled up yet are not included. Two queries, the
        hourly one aggregated in the database."""
        _require_aware("since", since)
        found: dict[tuple[str, str, str | None], list[tuple[datetime, float]]] = {}
        if not accounts:
            return found
        hourly, daily = ROLLUP_HOURLY.c, ROLLUP_DAILY.c
        with self._errors("reading rollups"):
            async with self._engine.connect() as conn:
                folded = await conn.scalar(
                    select(ROLLUP_STATE.c.rolled_until).where(ROLLUP_STATE.c.granularity == _DAY)
                )
                # Days before the daily watermark are in rollup_daily; a day read from both
                # is harmless: the maximum of both is the same.
                hourly_since = since if folded is None else max(since, _floor_day(folded))
                by_day = type_coerce(self._bucket(hourly.bucket_start, _DAY), UTCDateTime).label(
                    "day"
                )
                statements = (
                    select(
                        SERIES.c.account,
                        SERIES.c.limit,
                        SERIES.c.resource,
                        daily.bucket_start,
                        daily["max"],
                    ).join(
                        ROLLUP_DAILY,
                        and_(daily.series_id == SERIES.c.id, daily.bucket_start >= since),
                    ),
                    select(
                        SERIES.c.account,
                        SERIES.c.limit,
                        SERIES.c.resource,
                        by_day,
                        func.max(hourly["max"]),
                    )
                    .join(
                        ROLLUP_HOURLY,
                        and_(hourly.series_id == SERIES.c.id, hourly.bucket_start >= hourly_since),
                    )
                    .group_by(SERIES.c.id, by_day),
                )
                tops: dict[tuple[str, str, str | None], dict[datetime, float]] = {}
                for stmt in statements:
                    for chunk in _chunks(sorted(accounts)):
                        rows = await conn.execute(stmt.where(SERIES.c.account.in_(chunk)))
                        for account, limit, resource, day, top in rows:
                            days = tops.setdefault((account, limit, resource or None), {})
                            known = days.get(day)
                            days[day] = top if known is None else max(known, top)
        for key, days in tops.items():
            found[key] = [(day, days[day]) for day in sorted(days)]
        return found

    # --- alerts, outbox, silences -------------------------------------------------------------

    async def load_alerts(
        self, *, account: str | None = None, include_resolved: bool = False
    ) -> list[AlertState]:
        """Stored alert states (of `account` if given), by account and fingerprint.

        Resolved alerts are left out unless `include_resolved`.
        """
        stmt = select(*(ALERT_STATE.c[name] for name in _ALERT_FIELDS)).order_by(
            ALERT_STATE.c.account, ALERT_STATE.c.fingerprint
        )
        if account is not None:
            stmt = stmt.where(ALERT_STATE.c.account == account)
        if not include_resolved:
            stmt = stmt.where(ALERT_STATE.c.status != "resolved")
        with self._errors("loading alert state"):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).all()
        return [AlertState(*row) for row in rows]

    async def save_alerts(
        self,
        states: Sequence[AlertState],
        messages: Sequence[OutboxMessage],
        delete: Sequence[str] = (),
        *,
        forecasts: Sequence[StoredForecast] = (),
    ) -> list[OutboxMessage]:
        """Upsert `states`, delete the fingerprints `delete`, queue `messages` and replace the
        series' latest `forecasts`: ONE transaction.

        Returns the messages as stored, with their ids. States are upserted by fingerprint; of
        several with one fingerprint the last one wins. A forecast of a series the store does
        not hold is ignored. Either everything is written or, on any error, nothing is.
        """
        for forecast in forecasts:
            _check_forecast(forecast)
        newest: dict[str, AlertState] = {}
        for state in states:
            _check_alert(state)
            newest[state.fingerprint] = state
        doomed = list(dict.fromkeys(delete))
        clash = sorted(newest.keys() & set(doomed))
        if clash:
            raise ValueError(f"fingerprints both saved and deleted: {', '.join(clash)}")
        for message in messages:
            _check_message(message)
        if not newest and not doomed and not messages and not forecasts:
            return []
        message_rows = [_message_params(m) for m in messages]
        ids: list[int] = []
        with self._errors("saving alerts"):
            async with self._write() as conn:
                if forecasts:
                    await self._save_forecasts(conn, forecasts)
                if newest:
                    await conn.execute(
                        self._alert_upsert(), [_alert_params(s) for s in newest.values()]
                    )
                for chunk in _chunks(doomed):
                    await conn.execute(
                        ALERT_STATE.delete().where(ALERT_STATE.c.fingerprint.in_(chunk))
                    )
                if message_rows:
                    result = await conn.execute(
                        insert(OUTBOX).returning(OUTBOX.c.id, sort_by_parameter_order=True),
                        message_rows,
                    )
                    ids = [int(i) for i in result.scalars()]
        return [
            dataclasses.replace(m, id=i, last_error=_truncate(m.last_error))
            for m, i in zip(messages, ids, strict=True)
        ]

    async def _save_forecasts(
        self, conn: AsyncConnection, forecasts: Sequence[StoredForecast]
    ) -> None:
        newest: dict[tuple[str, str, str], dict[str, Any]] = {}
        for f in forecasts:  # of several for one series the last one wins
            newest[(f.account, f.limit, f.resource or "")] = _forecast_params(f)
        if self._forecast_upsert is None:
            self._forecast_upsert = self._build_forecast_upsert()
        # One statement, no id lookup first: it runs after every poll, inside the alert
        # states' transaction, and each round trip through the driver's thread counts.
        await conn.execute(self._forecast_upsert, list(newest.values()))

    def _build_forecast_upsert(self) -> Any:
        columns = [c for c in SERIES_FORECAST.c if c.name != "series_id"]
        values = [bindparam(f"p_{c.name}", type_=c.type) for c in columns]
        source = select(SERIES.c.id, *values).where(
            SERIES.c.account == bindparam("p_account"),
            SERIES.c.limit == bindparam("p_limit"),
            SERIES.c.resource == bindparam("p_resource"),
        )
        stmt = self._insert(SERIES_FORECAST).from_select(
            [c.name for c in SERIES_FORECAST.c], source
        )
        return stmt.on_conflict_do_update(
            index_elements=["series_id"],
            set_={c.name: stmt.excluded[c.name] for c in SERIES_FORECAST.c},
        )

    async def forecasts_of_accounts(
        self, accounts: Collection[str]
    ) -> dict[tuple[str, str, str | None], StoredForecast]:
        """The latest stored forecast of every series of `accounts`, by (account, limit,
        resource): one query."""
        found: dict[tuple[str, str, str | None], StoredForecast] = {}
        if not accounts:
            return found
        f = SERIES_FORECAST.c
        stmt = select(
            SERIES.c.account,
            SERIES.c.limit,
            SERIES.c.resource,
            *(f[name] for name in _FORECAST_COLUMNS),
        ).join(SERIES, SERIES.c.id == f.series_id)
        with self._errors("reading forecasts"):
            async with self._engine.connect() as conn:
                for chunk in _chunks(sorted(accounts)):
                    for row in await conn.execute(stmt.where(SERIES.c.account.in_(chunk))):
                        account, limit, resource, *values = row
                        data = dict(zip(_FORECAST_COLUMNS, values, strict=True))
                        data["notes"] = tuple(json.loads(data["notes"]))
                        data["active"] = bool(data["active"])
                        if data["sustained"] is not None:
                            data["sustained"] = bool(data["sustained"])
                        key = (account, limit, resource or None)
                        found[key] = StoredForecast(
                            account=account, limit=limit, resource=resource or None, **data
                        )
        return found

    def _alert_upsert(self) -> Any:
        stmt = self._insert(ALERT_STATE)
        return stmt.on_conflict_do_update(
            index_elements=["fingerprint"],
            set_={name: stmt.excluded[name] for name in _ALERT_FIELDS if name != "fingerprint"},
        )

    async def due_messages(self, now: datetime, *, limit: int = 100) -> list[OutboxMessage]:
        """Unsent messages whose next attempt is due (next_attempt_at <= now), oldest first.

        "Oldest" is by created_at, then id: the order in which they were queued.
        """
        _require_aware("now", now)
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        stmt = (
            _select_messages()
            .where(OUTBOX.c.sent_at.is_(None), OUTBOX.c.next_attempt_at <= now)
            .order_by(OUTBOX.c.created_at, OUTBOX.c.id)
            .limit(limit)
        )
        with self._errors("reading due messages"):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).all()
        return [OutboxMessage(*row) for row in rows]

    async def pending_messages(self, notifier: str) -> list[OutboxMessage]:
        """Every unsent message of `notifier`, due or not, oldest first (to build a digest)."""
        stmt = (
            _select_messages()
            .where(OUTBOX.c.notifier == notifier, OUTBOX.c.sent_at.is_(None))
            .order_by(OUTBOX.c.created_at, OUTBOX.c.id)
        )
        with self._errors("reading pending messages"):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).all()
        return [OutboxMessage(*row) for row in rows]

    async def mark_sent(self, ids: Sequence[int], now: datetime) -> None:
        """Record that the messages `ids` were delivered at `now`.

        Already-sent ones keep their first sent_at; unknown ids are ignored; attempts counts
        failed deliveries only.
        """
        _require_aware("now", now)
        unique = list(dict.fromkeys(ids))
        if not unique:
            return
        with self._errors("marking messages sent"):
            async with self._write() as conn:
                for chunk in _chunks(unique):
                    await conn.execute(
                        update(OUTBOX)
                        .where(OUTBOX.c.id.in_(chunk), OUTBOX.c.sent_at.is_(None))
                        .values(sent_at=now, last_attempt_at=now)
                    )

    async def mark_failed(
        self, id: int, now: datetime, error: str, next_attempt_at: datetime
    ) -> None:
        """Record a failed delivery of unsent message `id` and when to try it again.

        attempts += 1, last_error = `error` (truncated; stored as given, so scrub secrets
        first). A sent or unknown message is left alone.
        """
        _require_aware("now", now)
        _require_aware("next_attempt_at", next_attempt_at)
        with self._errors("marking a message failed"):
            async with self._write() as conn:
                await conn.execute(
                    update(OUTBOX)
                    .where(OUTBOX.c.id == id, OUTBOX.c.sent_at.is_(None))
                    .values(
                        attempts=OUTBOX.c.attempts + 1,
                        last_error=_truncate(error),
                        last_attempt_at=now,
                        next_attempt_at=next_attempt_at,
                    )
                )

    async def outbox_depth(self) -> dict[str, int]:
        """Unsent messages per notifier (notifiers with none are absent)."""
        stmt = (
            select(OUTBOX.c.notifier, func.count())
            .where(OUTBOX.c.sent_at.is_(None))
            .group_by(OUTBOX.c.notifier)
            .order_by(OUTBOX.c.notifier)
        )
        with self._errors("reading the outbox depth"):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).all()
        return {notifier: int(count) for notifier, count in rows}

    async def prune_outbox(self, now: datetime, keep: timedelta) -> int:
        """Delete messages sent more than `keep` before `now`; returns how many."""
        _require_aware("now", now)
        if keep <= timedelta(0):
            raise ValueError(f"keep must be positive, got {keep}")
        with self._errors("pruning the outbox"):
            return await self._prune_outbox(now - keep)

    async def _prune_outbox(self, cutoff: datetime) -> int:
        return await self._delete_older(
            OUTBOX, (OUTBOX.c.id,), OUTBOX.c.sent_at, _fixed_cutoff(cutoff)
        )

    async def add_silence(self, silence: Silence) -> Silence:
        """Store a new silence (its id must be None); returns it with its id."""
        if silence.id is not None:
            raise ValueError(f"silence already has id {silence.id}")
        matchers = _check_silence(silence)
        row = {
            "matchers": json.dumps(matchers, separators=(",", ":"), sort_keys=True),
            "starts_at": silence.starts_at,
            "ends_at": silence.ends_at,
            "reason": silence.reason,
            "created_by": silence.created_by,
            "created_at": silence.created_at,
        }
        with self._errors("adding a silence"):
            async with self._write() as conn:
                new_id = await conn.scalar(insert(SILENCE).values(row).returning(SILENCE.c.id))
        if new_id is None:  # pragma: no cover - INSERT ... RETURNING always returns the row
            raise StoreError(f"adding a silence on {self.display_url} returned no id")
        return dataclasses.replace(silence, id=int(new_id), matchers=matchers)

    async def list_silences(self, now: datetime, *, include_expired: bool = False) -> list[Silence]:
        """Silences not yet ended at `now` (active or future), by id; or all, if include_expired."""
        _require_aware("now", now)
        c = SILENCE.c
        stmt = select(
            c.id, c.matchers, c.starts_at, c.ends_at, c.reason, c.created_by, c.created_at
        ).order_by(c.id)
        if not include_expired:
            stmt = stmt.where(c.ends_at > now)
        with self._errors("listing silences"):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).all()
        return [
            Silence(int(i), json.loads(m), starts, ends, reason, by, created)
            for i, m, starts, ends, reason, by, created in rows
        ]

    async def remove_silence(self, id: int) -> bool:
        """Delete silence `id`; False if there was none."""
        with self._errors("removing a silence"):
            async with self._write() as conn:
                result = await conn.execute(delete(SILENCE).where(SILENCE.c.id == id))
        return bool(result.rowcount)

    async def expire_silences(self, now: datetime) -> int:
        """Delete silences that ended more than 7 days before `now`; returns how many."""
        _require_aware("now", now)
        with self._errors("expiring silences"):
            return await self._delete_older(
                SILENCE, (SILENCE.c.id,), SILENCE.c.ends_at, _fixed_cutoff(now - _SILENCE_KEEP)
            )

    # --- rollup and retention -----------------------------------------------------------------

    async def rollup(self, now: datetime) -> int:
        """Fold every complete UTC hour, then every complete UTC day, not yet rolled up.

        Idempotent: a second call with the same `now` writes nothing. Returns buckets written.
        Works in short slices, each its own transaction, so a backlog never holds the writer.
        """
        _require_aware("now", now)
        with self._errors("rolling up samples"):
            written = await self._fold(_HOUR, _floor_hour(now))
            hour_mark = await self._watermark(_HOUR)
            if hour_mark is not None:
                written += await self._fold(_DAY, _floor_day(hour_mark))
        return written

    async def _watermark(
        self, granularity: str, conn: AsyncConnection | None = None
    ) -> datetime | None:
        stmt = select(ROLLUP_STATE.c.rolled_until).where(ROLLUP_STATE.c.granularity == granularity)
        if conn is not None:
            return await conn.scalar(stmt)
        async with self._engine.connect() as own:
            return await own.scalar(stmt)

    async def _fold(self, granularity: str, end: datetime) -> int:
        source_col = SAMPLE.c.ts if granularity == _HOUR else ROLLUP_HOURLY.c.bucket_start
        written = 0
        while True:
            async with self._write() as conn:
                mark = await self._watermark(granularity, conn)
                if mark is not None and mark >= end:
                    return written
                # Jump over stretches without data instead of walking them slice by slice.
                lower = [source_col < end] + ([source_col >= mark] if mark is not None else [])
                first = await conn.scalar(select(func.min(source_col)).where(*lower))
                if first is None:
                    if mark is not None:
                        await conn.execute(_set_watermark(self._insert, granularity, end))
                    return written
                low = _FLOOR[granularity](first)
                high = min(low + _FOLD_SLICE[granularity], end)
                result = await conn.execute(self._fold_statement(granularity, low, high))
                written += max(result.rowcount, 0)
                await conn.execute(_set_watermark(self._insert, granularity, high))
            if high >= end:
                return written

    def _bucket(self, column: ColumnElement[Any], granularity: str) -> ColumnElement[Any]:
        # Literals, not bound parameters: GROUP BY must see the very same expression as SELECT.
        if self.dialect == "sqlite":
            shape = (
                "%Y-%m-%d %H:00:00.000000" if granularity == _HOUR else "%Y-%m-%d 00:00:00.000000"
            )
            return func.strftime(literal_column(f"'{shape}'"), column)
        utc: ColumnElement[Any] = literal_column("'UTC'")
        return func.timezone(
            utc, func.date_trunc(literal_column(f"'{granularity}'"), func.timezone(utc, column))
        )

    def _fold_statement(self, granularity: str, low: datetime, high: datetime) -> Any:
        lo_val: ColumnElement[Any]
        hi_val: ColumnElement[Any]
        n: ColumnElement[Any]
        if granularity == _HOUR:
            src, time_col, target = SAMPLE, SAMPLE.c.ts, ROLLUP_HOURLY
            lo_val, hi_val, n = func.min(SAMPLE.c.value), func.max(SAMPLE.c.value), func.count()
        else:
            src, time_col, target = ROLLUP_HOURLY, ROLLUP_HOURLY.c.bucket_start, ROLLUP_DAILY
            h = ROLLUP_HOURLY.c
            lo_val, hi_val, n = func.min(h["min"]), func.max(h["max"]), func.sum(h["count"])
        bucket = self._bucket(time_col, granularity)
        groups = (
            select(
                src.c.series_id.label("series_id"),
                bucket.label("bucket"),
                lo_val.label("lo"),
                hi_val.label("hi"),
                n.label("n"),
                func.max(time_col).label("newest"),
            )
            .where(time_col >= low, time_col < high)
            .group_by(src.c.series_id, bucket)
            .subquery("g")
        )
        newest = src.alias("newest_row")
        newest_time = newest.c.ts if granularity == _HOUR else newest.c.bucket_start
        newest_value = newest.c.value if granularity == _HOUR else newest.c["last"]
        rows = (
            select(
                groups.c.series_id,
                groups.c.bucket,
                groups.c.lo,
                groups.c.hi,
                newest_value,
                groups.c.n,
            )
            .join_from(
                groups,
                newest,
                and_(newest.c.series_id == groups.c.series_id, newest_time == groups.c.newest),
            )
            # SQLite needs a WHERE before ON CONFLICT, or it reads ON as a join constraint.
            .where(true())
        )
        stmt = self._insert(target).from_select(
            ["series_id", "bucket_start", "min", "max", "last", "count"], rows
        )
        return stmt.on_conflict_do_update(
            index_elements=["series_id", "bucket_start"],
            set_={name: stmt.excluded[name] for name in ("min", "max", "last", "count")},
        )

    async def apply_retention(
        self,
        now: datetime,
        *,
        samples: timedelta,
        hourly: timedelta,
        daily: timedelta,
        runs: timedelta,
    ) -> dict[str, int]:
        """Delete rows older than their retention; returns rows deleted per table.

        Raw samples not yet folded into the hourly rollup, and hourly buckets not yet folded
        into the daily one, are kept whatever their age. The `runs` horizon also applies to
        sent outbox messages (by sent_at) and resolved alert states (by resolved_at); unsent
        messages and open alerts are never deleted.
        """
        _require_aware("now", now)
        for name, age in (
            ("samples", samples),
            ("hourly", hourly),
            ("daily", daily),
            ("runs", runs),
        ):
            if age <= timedelta(0):
                raise ValueError(f"retention {name} must be positive, got {age}")

        def folded_before(granularity: str, age: timedelta) -> _Cutoff:
            async def cutoff(conn: AsyncConnection) -> datetime | None:
                mark = await self._watermark(granularity, conn)
                return None if mark is None else min(now - age, mark)

            return cutoff

        def older_than(age: timedelta) -> _Cutoff:
            return _fixed_cutoff(now - age)

        with self._errors("applying retention"):
            return {
                "sample": await self._delete_older(
                    SAMPLE,
                    (SAMPLE.c.series_id, SAMPLE.c.ts),
                    SAMPLE.c.ts,
                    folded_before(_HOUR, samples),
                ),
                "rollup_hourly": await self._delete_older(
                    ROLLUP_HOURLY,
                    (ROLLUP_HOURLY.c.series_id, ROLLUP_HOURLY.c.bucket_start),
                    ROLLUP_HOURLY.c.bucket_start,
                    folded_before(_DAY, hourly),
                ),
                "rollup_daily": await self._delete_older(
                    ROLLUP_DAILY,
                    (ROLLUP_DAILY.c.series_id, ROLLUP_DAILY.c.bucket_start),
                    ROLLUP_DAILY.c.bucket_start,
                    older_than(daily),
                ),
                "collector_run": await self._delete_older(
                    COLLECTOR_RUN,
                    (COLLECTOR_RUN.c.id,),
                    COLLECTOR_RUN.c.started_at,
                    older_than(runs),
                ),
                "outbox": await self._prune_outbox(now - runs),
                "alert_state": await self._delete_older(
                    ALERT_STATE,
                    (ALERT_STATE.c.fingerprint,),
                    func.coalesce(ALERT_STATE.c.resolved_at, ALERT_STATE.c.updated_at),
                    older_than(runs),
                    ALERT_STATE.c.status == "resolved",
                ),
            }

    async def _delete_older(
        self,
        table: Table,
        key: tuple[ColumnElement[Any], ...],
        time_col: ColumnElement[Any],
        cutoff_of: _Cutoff,
        *conditions: ColumnElement[bool],
    ) -> int:
        deleted = 0
        while True:
            async with self._write() as conn:
                cutoff = await cutoff_of(conn)
                if cutoff is None:
                    return deleted
                batch = select(*key).where(time_col < cutoff, *conditions).limit(self._delete_batch)
                target = key[0] if len(key) == 1 else tuple_(*key)
                result = await conn.execute(delete(table).where(target.in_(batch)))
            deleted += result.rowcount
            if result.rowcount < self._delete_batch:
                return deleted

    # --- backup -------------------------------------------------------------------------------

    async def backup(self, path: Path) -> None:
        """Copy the SQLite database to a new file at `path`, consistently, while others write."""
        source = self._parsed.sqlite_path
        if source is None:
            raise StoreError("backup is only for SQLite; use pg_dump for PostgreSQL")
        await asyncio.to_thread(_sqlite_backup, source, Path(path))

    # --- plumbing -----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        async with contextlib.AsyncExitStack() as stack:
            if self._write_lock is not None:
                await stack.enter_async_context(self._write_lock)
            conn = await stack.enter_async_context(self._engine.connect())
            await conn.execution_options(**{_WRITE_OPTION: True})
            await stack.enter_async_context(conn.begin())
            yield conn

    @contextlib.contextmanager
    def _errors(self, action: str = "", *, prefix: str | None = None) -> Iterator[None]:
        """Turn driver errors into a StoreError saying what failed where, without secrets."""
        prefix = prefix or f"{action} failed on {self.display_url}"
        try:
            yield
        except StatementError as exc:
            if not isinstance(exc, DBAPIError) and isinstance(exc.orig, ValueError | TypeError):
                raise exc.orig from None  # a bad argument (e.g. a naive datetime), not a DB fault
            raise StoreError(self._describe(prefix, exc)) from exc
        except (SQLAlchemyError, OSError, sqlite3.Error) as exc:
            raise StoreError(self._describe(prefix, exc)) from exc

    def _describe(self, prefix: str, exc: BaseException) -> str:
        orig = getattr(exc, "orig", None)
        cause = orig if isinstance(orig, BaseException) else exc
        detail = str(cause).split("\n[SQL:")[0].strip() or type(cause).__name__
        if self._parsed.password:
            detail = detail.replace(self._parsed.password, "***")
        return mask_url_text(f"{prefix}: {detail}")


# --- helpers ----------------------------------------------------------------------------------


def _create_engine(parsed: DatabaseURL, *, readonly: bool) -> AsyncEngine:
    if parsed.dialect == "sqlite":
        engine = create_async_engine(
            parsed.readonly_url() if readonly else parsed.url,
            pool_size=3,
            max_overflow=2,
            connect_args={"timeout": BUSY_TIMEOUT_MS / 1000},
        )
        _install_sqlite_hooks(engine, readonly=readonly)
        return engine
    settings = {"timezone": "UTC", "application_name": "quota-watch"}
    if readonly:
        settings["default_transaction_read_only"] = "on"
    return create_async_engine(
        parsed.url,
        pool_size=5,
        max_overflow=5,
        pool_pre_ping=True,
        connect_args={"server_settings": settings, "timeout": 10},
    )


def _install_sqlite_hooks(engine: AsyncEngine, *, readonly: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the driver so that we choose DEFERRED or IMMEDIATE ourselves,
        # and so that DDL (migrations) is transactional.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if readonly:
                cursor.execute("PRAGMA query_only = ON")
            else:
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A writer takes the lock up front: upgrading a read transaction later fails with
        # SQLITE_BUSY at once in WAL mode, without waiting for busy_timeout.
        immediate = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _prepare_sqlite_file(parsed: DatabaseURL, readonly: bool) -> None:
    path = parsed.sqlite_path
    assert path is not None
    if readonly:
        if not path.is_file():
            raise StoreError(f"cannot open database at {parsed.display}: no such file")
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot open database at {parsed.display}: cannot create directory "
            f"{path.parent}: {exc.strerror or exc}"
        ) from exc


def _series_id(account: str, limit: str, resource: str | None) -> Any:
    return (
        select(SERIES.c.id)
        .where(
            SERIES.c.account == account,
            SERIES.c.limit == limit,
            SERIES.c.resource == (resource or ""),
        )
        .scalar_subquery()
    )


def _rollup_table(granularity: str) -> Table:
    if granularity == _HOUR:
        return ROLLUP_HOURLY
    if granularity == _DAY:
        return ROLLUP_DAILY
    raise ValueError(f"granularity must be 'hour' or 'day', got {granularity!r}")


def _series_params(r: StoredReading) -> dict[str, Any]:
    return {
        "provider": r.provider,
        "account": r.account,
        "limit": r.limit,
        "resource": r.resource or "",
        "unit": str(r.unit),
        "measure": str(r.measure),
        "cap_source": str(r.cap_source),
        "last_ts": r.ts,
        "last_value": r.value,
        "last_cap": r.cap,
        "period_start": r.period_start,
        "period_end": r.period_end,
    }


def _run_params(run: RunRecord) -> dict[str, Any]:
    return {
        "provider": run.provider,
        "account": run.account,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "outcome": run.outcome,
        "error": _truncate(run.error),
        "readings": run.readings,
    }


def _status_params(run: RunRecord) -> dict[str, Any]:
    failed = 1 if run.failed else 0
    return {
        "account": run.account,
        "provider": run.provider,
        "last_run_at": run.finished_at,
        "last_success_at": run.finished_at if run.outcome == "success" else None,
        "last_outcome": run.outcome,
        "last_error": _truncate(run.error),
        "last_duration_seconds": max((run.finished_at - run.started_at).total_seconds(), 0.0),
        "runs_total": 1,
        "failures_total": failed,
        "consecutive_failures": failed,
    }


def _encode_state(account: str, state: Mapping[str, Any]) -> list[dict[str, str]]:
    rows = []
    for key, value in state.items():
        if not isinstance(key, str):
            raise ValueError(f"collector state keys must be strings, got {type(key).__name__}")
        try:
            encoded = json.dumps(value, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"collector state {key!r} is not JSON-serialisable: {exc}") from None
        rows.append({"account": account, "key": key, "value": encoded})
    return rows


def _fixed_cutoff(moment: datetime) -> _Cutoff:
    async def cutoff(conn: AsyncConnection) -> datetime | None:
        return moment

    return cutoff


def _chunks(items: Sequence[Any], size: int = _IN_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _check_finite(what: str, name: str, value: float | None) -> None:
    if value is not None and not math.isfinite(value):
        raise ValueError(f"{what}: {name} must be finite, got {value!r}")


def _check_alert(state: AlertState) -> None:
    """Refuse what the database would store differently on each backend, or not at all."""
    what = f"alert {state.fingerprint!r}"
    if not state.fingerprint:
        raise ValueError("alert fingerprint must not be empty")
    if state.status not in _ALERT_STATUSES:
        raise ValueError(
            f"{what}: status must be one of {sorted(_ALERT_STATUSES)}, got {state.status!r}"
        )
    if state.severity not in _SEVERITIES:
        raise ValueError(
            f"{what}: severity must be one of {sorted(_SEVERITIES)}, got {state.severity!r}"
        )
    if state.pending_runs < 0:
        raise ValueError(f"{what}: pending_runs must be >= 0, got {state.pending_runs}")
    for name in ("value", "reminder_interval_seconds", "cap", "ratio", "forecast_value"):
        _check_finite(what, name, getattr(state, name))
    for name in (
        "period_start",
        "period_end",
        "started_at",
        "fired_at",
        "resolved_at",
        "last_notified_at",
        "next_reminder_at",
        "exhausts_at",
        "updated_at",
    ):
        moment = getattr(state, name)
        if moment is not None:
            _require_aware(f"{what}: {name}", moment)


_FORECAST_COLUMNS = tuple(c.name for c in SERIES_FORECAST.c if c.name != "series_id")


def _check_forecast(forecast: StoredForecast) -> None:
    _require_aware("computed_at", forecast.computed_at)
    if forecast.exhausts_at is not None:
        _require_aware("exhausts_at", forecast.exhausts_at)
    for name in ("value", "cap", "ratio", "forecast_value", "forecast_utilization", "rate"):
        _check_finite("forecast", name, getattr(forecast, name))


def _forecast_params(forecast: StoredForecast) -> dict[str, Any]:
    params = {f"p_{name}": getattr(forecast, name) for name in _FORECAST_COLUMNS}
    params["p_notes"] = json.dumps(list(forecast.notes))
    params["p_account"] = forecast.account
    params["p_limit"] = forecast.limit
    params["p_resource"] = forecast.resource or ""
    return params


def _check_message(message: OutboxMessage) -> None:
    what = f"message {message.title!r} to {message.notifier!r}"
    if message.id is not None:
        raise ValueError(f"{what} already has id {message.id}")
    if message.kind not in _MESSAGE_KINDS:
        raise ValueError(
            f"{what}: kind must be one of {sorted(_MESSAGE_KINDS)}, got {message.kind!r}"
        )
    if message.severity not in _SEVERITIES:
        raise ValueError(
            f"{what}: severity must be one of {sorted(_SEVERITIES)}, got {message.severity!r}"
        )
    if message.attempts < 0:
        raise ValueError(f"{what}: attempts must be >= 0, got {message.attempts}")
    for name in ("created_at", "next_attempt_at", "sent_at"):
        moment = getattr(message, name)
        if moment is not None:
            _require_aware(f"{what}: {name}", moment)


def _check_silence(silence: Silence) -> dict[str, str]:
    """Validate a new silence; returns its matchers as a plain dict."""
    if not silence.matchers:
        raise ValueError("a silence needs at least one matcher (it would silence everything)")
    unknown = sorted(set(silence.matchers) - SILENCE_MATCHER_KEYS)
    if unknown:
        raise ValueError(
            f"unknown silence matcher(s) {', '.join(map(repr, unknown))}: use "
            f"{', '.join(sorted(SILENCE_MATCHER_KEYS))}"
        )
    for key, wanted in silence.matchers.items():
        if not isinstance(wanted, str):
            raise ValueError(f"silence matcher {key!r} must be a string, got {wanted!r}")
    for name in ("starts_at", "ends_at", "created_at"):
        _require_aware(name, getattr(silence, name))
    if silence.ends_at <= silence.starts_at:
        raise ValueError(
            f"silence ends_at ({silence.ends_at.isoformat()}) must be after starts_at "
            f"({silence.starts_at.isoformat()})"
        )
    return dict(sorted(silence.matchers.items()))


def _alert_params(state: AlertState) -> dict[str, Any]:
    return {name: getattr(state, name) for name in _ALERT_FIELDS}


def _message_params(message: OutboxMessage) -> dict[str, Any]:
    row = {name: getattr(message, name) for name in _MESSAGE_FIELDS if name != "id"}
    row["last_error"] = _truncate(message.last_error)
    row["last_attempt_at"] = None
    return row


def _select_messages() -> Any:
    return select(*(OUTBOX.c[name] for name in _MESSAGE_FIELDS))


def _lower_watermarks(oldest: datetime) -> Any:
    """Make the next rollup re-fold the hour and day of a sample older than the watermark."""
    rs = ROLLUP_STATE.c
    return (
        update(ROLLUP_STATE)
        .where(rs.rolled_until > oldest)
        .values(
            rolled_until=case(
                (rs.granularity == _HOUR, literal(_floor_hour(oldest), UTCDateTime())),
                else_=literal(_floor_day(oldest), UTCDateTime()),
            )
        )
    )


def _set_watermark(
    make_insert: Callable[[Table], sqlite.Insert | postgresql.Insert],
    granularity: str,
    until: datetime,
) -> Any:
    stmt = make_insert(ROLLUP_STATE).values(granularity=granularity, rolled_until=until)
    return stmt.on_conflict_do_update(
        index_elements=["granularity"], set_={"rolled_until": stmt.excluded.rolled_until}
    )


def _known_revision(revision: str) -> bool:
    """Whether `revision` is one of this release's migrations (imports Alembic: rare path)."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from quota_watch.store._migrate import alembic_config

    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False


def _newer_schema(where: str, revision: str) -> str:
    return (
        f"the database at {where} has schema revision {revision!r}, which this quota-watch "
        f"does not know (newest known: {HEAD_REVISION}): a newer release migrated it. Refusing "
        "to use it; run that release again, or restore a backup taken before the upgrade"
    )


def _sqlite_backup(source: Path, target: Path) -> None:
    target = target.expanduser().resolve()
    if target.exists():
        raise StoreError(f"refusing to overwrite {target}: it already exists")
    if not target.parent.is_dir():
        raise StoreError(f"cannot write a backup to {target}: {target.parent} is not a directory")
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.partial")
    try:
        src = sqlite3.connect(
            f"file:{quote(str(source), safe='/')}?mode=ro",
            uri=True,
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
        try:
            dst = sqlite3.connect(partial)
            try:
                # One step (pages=-1): the whole copy is read in one transaction, so it is a
                # consistent snapshot even while the daemon keeps writing (WAL).
                src.backup(dst)
                dst.execute("PRAGMA journal_mode = DELETE")  # a single self-contained file
                (check,) = dst.execute("PRAGMA quick_check").fetchone()
                if check != "ok":
                    raise StoreError(f"backup of {source} failed its integrity check: {check}")
            finally:
                dst.close()
        finally:
            src.close()
        _publish(partial, target)
    except sqlite3.Error as exc:
        raise StoreError(f"backup of {source} to {target} failed: {exc}") from exc
    except OSError as exc:
        raise StoreError(f"backup of {source} to {target} failed: {exc.strerror or exc}") from exc
    finally:
        partial.unlink(missing_ok=True)


def _publish(partial: Path, target: Path) -> None:
    """Give the finished copy its name without ever replacing a file that appeared meanwhile."""
    try:
        os.link(partial, target)
    except FileExistsError:
        raise StoreError(f"refusing to overwrite {target}: it already exists") from None
    except OSError:  # no hard links on this file system
        if target.exists():
            raise StoreError(f"refusing to overwrite {target}: it already exists") from None
        partial.replace(target)


# --- restore ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RestoreResult:
    """What a restore did."""

    revision: str  # the restored database's schema revision (migrated at the next start)
    replaced: Path | None  # where the database that was there before was saved, if any


def restore_sqlite(
    backup: Path, target: Path, *, now: datetime, force: bool = False
) -> RestoreResult:
    """Replace the SQLite database at `target` with a copy of `backup`, safely.

    The backup must pass SQLite's full integrity check and carry a schema revision this
    release knows. An existing database is only replaced with `force`, never while another
    process has it open (a running daemon), and is first saved next to it as
    ``<name>.replaced-<UTC time>``. Stale ``-wal``/``-shm`` files are removed, and the new
    file gets the old one's owner and mode (or its directory's owner), so that a restore run
    as root leaves a database the service user can still write.
    """
    _require_aware("now", now)
    backup = backup.expanduser().resolve()
    target = target.expanduser().resolve()
    if not backup.is_file():
        raise StoreError(f"no backup at {backup}")
    revision = _check_backup(backup)
    if backup == target:
        raise StoreError(f"{backup} is the database itself")
    sidecars = [target.with_name(target.name + suffix) for suffix in ("-wal", "-shm")]
    exists = target.exists()
    if (exists or any(p.exists() for p in sidecars)) and not force:
        raise StoreError(
            f"refusing to overwrite {target}: it exists (stop the daemon, then pass --force; "
            "the current database is kept beside it)"
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create {target.parent}: {exc.strerror or exc}") from exc
    owner = target if exists else target.parent
    replaced: Path | None = None
    if exists:
        _refuse_if_open(target)
        replaced = target.with_name(f"{target.name}.replaced-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}")
        _sqlite_backup(target, replaced)
    staged = target.with_name(f".{target.name}.{uuid.uuid4().hex}.restore")
    try:
        _sqlite_backup(backup, staged)
        _copy_ownership(owner, staged, mode=exists)
        for sidecar in sidecars:
            sidecar.unlink(missing_ok=True)
        staged.replace(target)
    except OSError as exc:
        raise StoreError(f"restoring {target} failed: {exc.strerror or exc}") from exc
    finally:
        staged.unlink(missing_ok=True)
    _fsync_dir(target.parent)
    return RestoreResult(revision=revision, replaced=replaced)


def _check_backup(backup: Path) -> str:
    """The backup's schema revision, after SQLite's full integrity check."""
    try:
        conn = sqlite3.connect(f"file:{quote(str(backup), safe='/')}?mode=ro", uri=True)
        try:
            rows = [row[0] for row in conn.execute("PRAGMA integrity_check")]
            if rows != ["ok"]:
                raise StoreError(f"{backup} failed the integrity check: {'; '.join(rows[:3])}")
            try:
                row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            except sqlite3.OperationalError:
                row = None
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{backup} is not a usable SQLite database: {exc}") from exc
    if row is None:
        raise StoreError(f"{backup} is not a quota-watch database (no schema revision)")
    revision = str(row[0])
    if not _known_revision(revision):
        raise StoreError(
            f"{backup} has schema revision {revision!r}, which this quota-watch does not know "
            f"(newest known: {HEAD_REVISION}); restore it with the release that wrote it"
        )
    return revision


def _refuse_if_open(target: Path) -> None:
    """StoreError when another process has the database open (the daemon keeps it open)."""
    # An exclusive-mode connection cannot lock a WAL database that another connection has open,
    # even an idle one: that is the "is a daemon using it" test.
    try:
        conn = sqlite3.connect(target, isolation_level=None, timeout=0)
        try:
            conn.execute("PRAGMA locking_mode = EXCLUSIVE")
            conn.execute("BEGIN EXCLUSIVE")
            conn.execute("ROLLBACK")
        finally:
            conn.close()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise StoreError(
                f"{target} is in use by another process (is the daemon running? stop it first)"
            ) from None
        raise StoreError(f"cannot open {target}: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot open {target}: {exc}") from exc


def _copy_ownership(reference: Path, path: Path, *, mode: bool) -> None:
    info = reference.stat()
    if mode:
        path.chmod(info.st_mode & 0o777)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        os.chown(path, info.st_uid, info.st_gid)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
