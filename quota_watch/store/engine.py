"""The store's connection plumbing: engine, pragmas, transactions, errors and migrations."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeAlias

from sqlalchemy import ColumnElement, Table, delete, event, select, text, tuple_
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.elements import TextClause

from quota_watch.store.common import BUSY_TIMEOUT_MS
from quota_watch.store.fence import check_fence, current_fence
from quota_watch.store.models import StoreError
from quota_watch.store.queries import Rows, bind_params
from quota_watch.store.revision import HEAD_REVISION
from quota_watch.store.urls import DatabaseURL, mask_url_text, parse_database_url

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql

__all__ = ["Cutoff", "StoreBase", "fixed_cutoff"]

log = logging.getLogger("quota_watch.store.store")  # the name its log lines have always had

_MIGRATION_LOCK_KEY = 0x71775F6D69677261  # PostgreSQL advisory lock: one migrator at a time
_WRITE_OPTION = "quota_watch_write"

Cutoff: TypeAlias = Callable[[AsyncConnection], Awaitable[datetime | None]]
"""Reads, inside a write transaction, the time before which rows may go (None: none may)."""


def fixed_cutoff(moment: datetime) -> Cutoff:
    """A Cutoff that is always `moment`."""

    async def cutoff(conn: AsyncConnection) -> datetime | None:
        return moment

    return cutoff


GroupJob: TypeAlias = Callable[[AsyncConnection], Awaitable[Any]]
"""Writes done inside a group-commit transaction; its result goes back to its caller."""


@dataclass(slots=True)
class _Queued:
    """One write waiting for the next group commit."""

    action: str  # what failed, in an error message ("recording a poll")
    poll: Any  # a poll prepared by ReadingsMixin, written batched with the others; or None
    job: GroupJob | None
    done: asyncio.Future[Any]


def _settle(done: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if done.done():  # its caller was cancelled
        return
    if error is None:
        done.set_result(result)
    else:
        done.set_exception(error)


@functools.lru_cache(maxsize=512)
def _text(sql: str) -> TextClause:
    return text(sql)


class StoreBase:
    """The part of the Store every aggregate uses: open, migrate, transactions and errors."""

    dialect: str
    display_url: str
    readonly: bool
    _delete_batch: int = 20_000  # rows per retention DELETE: keeps SQLite's write lock short
    _group_size: int = 256  # writes per group-commit transaction, at most

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
        self._group_queue: list[_Queued] = []
        self._group_writer: asyncio.Future[None] | None = None

    # --- life cycle ---------------------------------------------------------------------------

    @classmethod
    async def open(cls, url: str, *, readonly: bool = False, migrate: bool = True) -> Self:
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
        """Finish the queued group-commit writes, then close every pooled connection."""
        writer = self._group_writer
        if writer is not None and not writer.done():
            await asyncio.wait([writer])
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
                    from quota_watch.store import _migrate  # heavy: only when there is work

                    if current is not None and not _migrate.known_revision(current):
                        raise StoreError(_migrate.newer_schema(self.display_url, current))
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

    # --- plumbing -----------------------------------------------------------------------------

    def _insert(self, table: Table) -> sqlite.Insert | postgresql.Insert:
        if self.dialect == "sqlite":
            return sqlite.insert(table)
        from sqlalchemy.dialects import postgresql  # ~2 MiB that a SQLite daemon never needs

        return postgresql.insert(table)

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        async with contextlib.AsyncExitStack() as stack:
            if self._write_lock is not None:
                await stack.enter_async_context(self._write_lock)
            conn = await stack.enter_async_context(self._engine.connect())
            await conn.execution_options(**{_WRITE_OPTION: True})
            await stack.enter_async_context(conn.begin())
            fence = current_fence()
            if fence is not None and self.dialect == "postgresql":
                await check_fence(conn, fence)
            yield conn

    async def _group_commit(
        self, action: str, *, poll: Any = None, job: GroupJob | None = None
    ) -> Any:
        """Queue a write for the next group commit and return once it is committed.

        Writes queued while a transaction is under way are written together in the next one
        (at most `_group_size`): polls through :meth:`_write_polls` in batched statements,
        then each `job` in order. If that transaction fails, each of its writes is retried
        in a transaction of its own, so one write's error is only its caller's. A caller
        cancelled while waiting does not cancel its write.
        """
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._group_queue.append(_Queued(action, poll, job, done))
        if self._group_writer is None or self._group_writer.done():
            self._group_writer = asyncio.ensure_future(self._write_group())
        return await asyncio.shield(done)

    async def _write_group(self) -> None:
        queue = self._group_queue
        await asyncio.sleep(0)  # let the writes ready in this loop turn join the first batch
        while queue:
            batch = queue[: self._group_size]
            del queue[: self._group_size]
            try:
                results = await self._commit_group(batch)
            except Exception as exc:
                if len(batch) == 1:
                    _settle(batch[0].done, None, exc)
                    continue
                for item in batch:  # whose write failed: each on its own
                    try:
                        [result] = await self._commit_group([item])
                    except Exception as own:
                        _settle(item.done, None, own)
                    else:
                        _settle(item.done, result, None)
            except BaseException as exc:  # cancelled (the loop is closing): nobody waits forever
                for item in [*batch, *queue]:
                    _settle(item.done, None, StoreError(f"{item.action} was interrupted: {exc!r}"))
                queue.clear()
                raise
            else:
                for item, result in zip(batch, results, strict=True):
                    _settle(item.done, result, None)

    async def _commit_group(self, batch: Sequence[_Queued]) -> list[Any]:
        """One transaction: the polls (each one's result: what _write_polls gives for its
        account), then each job in order (each one's result: the job's)."""
        polls = [item.poll for item in batch if item.poll is not None]
        with self._errors(batch[0].action):
            async with self._write() as conn:
                written = await self._write_polls(conn, polls) if polls else {}
                results = []
                for item in batch:
                    if item.job is not None:
                        results.append(await item.job(conn))
                    else:
                        results.append(written.get(item.poll.account))
                return results

    async def _write_polls(self, conn: AsyncConnection, polls: Sequence[Any]) -> dict[str, Any]:
        """Write prepared polls; what each account's caller gets back (the readings aggregate
        implements it)."""
        raise NotImplementedError

    def _rows(self, conn: AsyncConnection) -> Rows:
        """A `Rows` for the shared read queries on `conn`."""

        async def rows(sql: str, params: Mapping[str, Any]) -> Sequence[Sequence[Any]]:
            bound = bind_params(params, self.dialect)
            return (await conn.execute(_text(sql), bound)).all()

        return rows

    @contextlib.asynccontextmanager
    async def _reading(self, action: str) -> AsyncIterator[Rows]:
        """A `Rows` for the shared read queries, on one connection (one read transaction)."""
        with self._errors(action):
            async with self._engine.connect() as conn:
                yield self._rows(conn)

    async def _delete_older(
        self,
        table: Table,
        key: tuple[ColumnElement[Any], ...],
        time_col: ColumnElement[Any],
        cutoff_of: Cutoff,
        *conditions: ColumnElement[bool],
    ) -> int:
        """Delete the rows of `table` older than the cutoff, in batches of short transactions."""
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
