"""Tests of quota_watch.store on SQLite and PostgreSQL: schema, polls, rollups, backup."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from quota_watch.model import AccountStatus
from quota_watch.store.facade import Store
from quota_watch.store.models import Point, RollupPoint, RunRecord, StoredReading, StoreError
from quota_watch.store.revision import HEAD_REVISION
from quota_watch.store.tables import METADATA, UTCDateTime
from quota_watch.store.urls import mask_url_text, parse_database_url

T0 = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
DAY1 = datetime(2025, 3, 10, tzinfo=UTC)
TABLES = {
    "series",
    "sample",
    "rollup_hourly",
    "rollup_daily",
    "rollup_state",
    "collector_run",
    "account_status",
    "collector_state",
}


def reading(
    limit: str = "requests",
    value: float = 1.0,
    *,
    ts: datetime = T0,
    account: str = "acc-a",
    resource: str | None = None,
    cap: float | None = 100.0,
    cap_source: str = "catalogue",
    period_start: datetime | None = None,
    period_end: datetime | None = None,
) -> StoredReading:
    """A reading with sensible defaults."""
    return StoredReading(
        provider="cloudflare",
        account=account,
        limit=limit,
        resource=resource,
        unit="count",
        measure="cumulative",
        value=value,
        cap=cap,
        cap_source=cap_source,
        period_start=period_start,
        period_end=period_end,
        ts=ts,
    )


def run_record(
    at: datetime = T0,
    outcome: str = "success",
    *,
    account: str = "acc-a",
    error: str | None = None,
    readings: int = 0,
) -> RunRecord:
    """A run that took two seconds and finished at `at`."""
    return RunRecord(
        provider="cloudflare",
        account=account,
        started_at=at - timedelta(seconds=2),
        finished_at=at,
        outcome=outcome,
        error=error,
        readings=readings,
    )


async def poll(store: Store, *readings: StoredReading, at: datetime | None = None) -> None:
    """Record a successful poll of acc-a carrying `readings`."""
    finished = at or max((r.ts for r in readings), default=T0)
    await store.record_poll(run_record(finished, readings=len(readings)), readings)


async def count_rows(store: Store, table: str) -> int:
    """Rows in `table`."""
    async with store.engine.connect() as conn:
        return int(await conn.scalar(text(f"SELECT count(*) FROM {table}")) or 0)


# --- schema -----------------------------------------------------------------------------------


async def test_migrate_from_empty(store_url: str) -> None:
    store = await Store.open(store_url, migrate=False)
    try:
        assert await store.schema_revision() is None
        with pytest.raises(StoreError, match="reading the latest values failed"):
            await store.latest()
        assert await store.migrate() == HEAD_REVISION
        assert await store.schema_revision() == HEAD_REVISION
        assert await store.migrate() == HEAD_REVISION  # nothing left to do
        async with store.engine.connect() as conn:
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert names >= TABLES | {"alembic_version"}
        assert await store.latest() == []
    finally:
        await store.close()


def test_head_revision_is_the_alembic_head() -> None:
    from quota_watch.store._migrate import script_head

    assert script_head() == HEAD_REVISION


async def test_tables_match_migrations(store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    def diff(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, METADATA))

    async with store.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


@pytest.mark.slow
def test_alembic_is_not_imported_when_the_schema_is_current(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'qw.db'}"
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        import quota_watch.store.facade
        assert "alembic" not in sys.modules, "imported by quota_watch.store.facade"
        from quota_watch.store.facade import Store

        async def main():
            store = await Store.open({url!r})
            await store.latest()
            await store.close()

        asyncio.run(main())
        print("alembic" in sys.modules)
        """
    )
    first = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "True"  # an empty database needed migrating
    second = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "False"


async def test_unknown_revision_is_refused(store_url: str) -> None:
    store = await Store.open(store_url)
    async with store.engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = 'ffff9999'"))
    await store.close()
    with pytest.raises(StoreError, match=r"ffff9999.*newer release"):
        await Store.open(store_url)
    with pytest.raises(StoreError, match=r"ffff9999.*quota-watch db migrate"):
        await Store.open(store_url, readonly=True)


# --- polls ------------------------------------------------------------------------------------


async def test_record_poll_round_trip(store: Store) -> None:
    start, end = datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC)
    first = [
        reading("requests", 10, period_start=start, period_end=end),
        reading("storage", 5e8, resource="db-1", cap=None, cap_source="none"),
    ]
    await store.record_poll(run_record(T0, readings=2), first, {"cursor": "abc", "n": [1, 2]})
    later = T0 + timedelta(minutes=10)
    second = [
        reading("requests", 25, ts=later, period_start=start, period_end=end, cap_source="api"),
        reading("storage", 6e8, ts=later, resource="db-1", cap=None, cap_source="none"),
    ]
    await store.record_poll(run_record(later, readings=2), second)

    assert await store.latest() == [
        StoredReading(
            "cloudflare", "acc-a", "requests", None, "count", "cumulative", 25.0, 100.0, "api",
            start, end, later,
        ),
        StoredReading(
            "cloudflare", "acc-a", "storage", "db-1", "count", "cumulative", 6e8, None, "none",
            None, None, later,
        ),
    ]  # fmt: skip
    assert await store.samples("acc-a", "requests", None, T0) == [
        Point(T0, 10.0, 100.0),
        Point(later, 25.0, 100.0),
    ]
    assert await store.samples("acc-a", "requests", None, T0, until=later) == [
        Point(T0, 10.0, 100.0)
    ]
    assert await store.samples("acc-a", "storage", "db-1", later) == [Point(later, 6e8, None)]
    assert await store.samples("acc-a", "storage", None, T0) == []  # resource is part of the key
    assert await store.samples("nobody", "requests", None, T0) == []
    assert await store.account_statuses() == [
        AccountStatus(
            provider="cloudflare",
            account="acc-a",
            last_run_at=later,
            last_success_at=later,
            last_outcome="success",
            last_error=None,
            last_duration_seconds=2.0,
            runs_total=2,
            failures_total=0,
            consecutive_failures=0,
        )
    ]
    assert await store.load_state("acc-a") == {"cursor": "abc", "n": [1, 2]}  # None: untouched
    assert await store.load_state("acc-b") == {}
    assert await count_rows(store, "collector_run") == 2


async def test_latest_filters_by_account(store: Store) -> None:
    for account in ("acc-a", "acc-b", "acc-c"):
        await store.record_poll(
            run_record(account=account, readings=1), [reading(account=account, value=1)]
        )
    assert [r.account for r in await store.latest()] == ["acc-a", "acc-b", "acc-c"]
    assert [r.account for r in await store.latest(accounts={"acc-c", "acc-a"})] == [
        "acc-a",
        "acc-c",
    ]
    assert await store.latest(accounts=["nobody"]) == []
    assert await store.latest(accounts=[]) == []


async def test_oldest_samples_give_each_accounts_first_sample_since(store: Store) -> None:
    hour = timedelta(hours=1)
    polls = {
        # the oldest at or after T0 is another series' (and a resource's) sample
        "acc-a": [
            reading("requests", 1, ts=T0 - 2 * hour),
            reading("requests", 2, ts=T0 + hour),
            reading("storage", 3, ts=T0 + hour / 2, resource="db-1"),
        ],
        "acc-b": [reading("requests", 4, ts=T0), reading("requests", 5, ts=T0 + 3 * hour)],
        "acc-c": [reading("requests", 6, ts=T0 - hour)],  # nothing since T0: left out
    }
    for account, readings in polls.items():
        for r in readings:
            moved = dataclasses.replace(r, account=account)
            await store.record_poll(run_record(r.ts, account=account, readings=1), [moved])
    accounts = [*polls, "nobody"]
    found = await store.oldest_samples(accounts, T0)
    assert found == {"acc-a": T0 + hour / 2, "acc-b": T0}
    # what the samples themselves say
    samples = await store.samples_of_accounts(accounts, T0, T0 + 4 * hour)
    firsts: dict[str, datetime] = {}
    for (account, _, _), points in samples.items():
        firsts[account] = min(firsts.get(account, points[0].ts), points[0].ts)
    assert found == firsts
    assert all(t.tzinfo is UTC for t in found.values())
    assert await store.oldest_samples(accounts, T0 + 3 * hour) == {"acc-b": T0 + 3 * hour}
    assert await store.oldest_samples([], T0) == {}


async def test_latest_only_moves_forward(store: Store) -> None:
    await poll(store, reading(value=2, ts=T0 + timedelta(minutes=10), cap_source="api"))
    await poll(store, reading(value=1, ts=T0, cap_source="override"))  # arrives late
    [latest] = await store.latest()
    assert (latest.value, latest.ts, latest.cap_source) == (2.0, T0 + timedelta(minutes=10), "api")
    assert [p.value for p in await store.samples("acc-a", "requests", None, T0)] == [1.0, 2.0]


async def test_same_series_and_time_last_one_wins(store: Store) -> None:
    await poll(store, reading(value=1), reading(value=2))
    assert await store.samples("acc-a", "requests", None, T0) == [Point(T0, 2.0, 100.0)]
    # The same instant written as another offset is the same sample.
    await poll(store, reading(value=3, ts=T0.astimezone(timezone(timedelta(hours=2)))))
    assert await store.samples("acc-a", "requests", None, T0) == [Point(T0, 3.0, 100.0)]
    [latest] = await store.latest()
    assert latest.value == 3.0


async def test_failures_update_counters_but_not_last_success(store: Store) -> None:
    t = [T0 + timedelta(minutes=10 * i) for i in range(6)]
    await store.record_poll(run_record(t[0]), [])
    await store.record_poll(run_record(t[1], "unavailable", error="HTTP 503"), [])
    await store.record_poll(run_record(t[2], "auth", error="token rejected"), [])
    [status] = await store.account_statuses()
    assert status == AccountStatus(
        provider="cloudflare",
        account="acc-a",
        last_run_at=t[2],
        last_success_at=t[0],
        last_outcome="auth",
        last_error="token rejected",
        last_duration_seconds=2.0,
        runs_total=3,
        failures_total=2,
        consecutive_failures=2,
    )
    await store.record_poll(run_record(t[3], "no_data"), [])  # answered: not a failure
    [status] = await store.account_statuses()
    assert (status.runs_total, status.failures_total, status.consecutive_failures) == (4, 2, 0)
    assert (status.last_success_at, status.last_outcome, status.last_error) == (
        t[0],
        "no_data",
        None,
    )
    await store.record_poll(run_record(t[4], "rate_limited", error="429"), [])
    await store.record_poll(run_record(t[5]), [])
    [status] = await store.account_statuses()
    assert (status.runs_total, status.failures_total, status.consecutive_failures) == (6, 3, 0)
    assert status.last_success_at == t[5]


async def test_long_errors_are_truncated(store: Store) -> None:
    await store.record_poll(run_record(T0, "unexpected", error="x" * 50_000), [])
    [status] = await store.account_statuses()
    assert status.last_error is not None
    assert 100 < len(status.last_error) <= 4000


async def test_state_is_replaced_or_left_alone(store: Store) -> None:
    await store.record_poll(run_record(T0), [], {"a": 1, "b": {"c": [1, 2.5, None]}})
    assert await store.load_state("acc-a") == {"a": 1, "b": {"c": [1, 2.5, None]}}
    await store.record_poll(run_record(T0), [], None)
    assert await store.load_state("acc-a") == {"a": 1, "b": {"c": [1, 2.5, None]}}
    await store.record_poll(run_record(T0), [], {"b": "two"})
    assert await store.load_state("acc-a") == {"b": "two"}
    await store.record_poll(run_record(T0, account="acc-b"), [], {"z": True})
    await store.record_poll(run_record(T0), [], {})
    assert await store.load_state("acc-a") == {}
    assert await store.load_state("acc-b") == {"z": True}


async def test_bad_input_writes_nothing(store: Store) -> None:
    with pytest.raises(ValueError, match="'blob' is not JSON-serialisable"):
        await store.record_poll(run_record(T0), [reading()], {"blob": object()})
    with pytest.raises(ValueError, match="is for account 'acc-b'"):
        await store.record_poll(run_record(T0), [reading(account="acc-b")])
    assert await store.latest() == []
    assert await store.account_statuses() == []


def test_value_objects_validate() -> None:
    with pytest.raises(ValueError, match="finite"):
        reading(value=math.nan)
    with pytest.raises(ValueError, match="cap_source"):
        reading(cap_source="guess")
    with pytest.raises(ValueError, match="outcome"):
        run_record(outcome="meh")
    assert run_record(outcome="auth").failed
    assert not run_record(outcome="no_data").failed


# --- datetimes --------------------------------------------------------------------------------


async def test_naive_datetimes_are_rejected(store: Store) -> None:
    naive = datetime(2025, 3, 10, 12, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        reading(ts=naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        reading(period_end=naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        run_record(naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.samples("acc-a", "requests", None, naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.rollup(naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.apply_retention(
            naive, samples=timedelta(1), hourly=timedelta(1), daily=timedelta(1), runs=timedelta(1)
        )
    for dialect in (sqlite.dialect(), postgresql.dialect()):  # type: ignore[no-untyped-call]
        with pytest.raises(ValueError, match="naive datetime"):
            UTCDateTime().process_bind_param(naive, dialect)
    # The column type is a backstop for code that bypasses the dataclasses.
    from quota_watch.store.tables import COLLECTOR_STATE, ROLLUP_STATE

    async with store.engine.begin() as conn:
        with pytest.raises(Exception, match="naive datetime"):
            await conn.execute(ROLLUP_STATE.insert(), {"granularity": "x", "rolled_until": naive})
        await conn.execute(COLLECTOR_STATE.delete())


async def test_datetimes_come_back_as_aware_utc(store: Store) -> None:
    plus2 = timezone(timedelta(hours=2))
    local = datetime(2025, 3, 10, 14, 30, tzinfo=plus2)
    await poll(store, reading(ts=local, period_start=datetime(2025, 3, 1, tzinfo=plus2)))
    [latest] = await store.latest()
    assert latest.ts == local and latest.ts.tzinfo is UTC and latest.ts.hour == 12
    assert latest.period_start is not None and latest.period_start.tzinfo is UTC
    assert latest.period_start == datetime(2025, 2, 28, 22, 0, tzinfo=UTC)
    [point] = await store.samples(
        "acc-a", "requests", None, datetime(2025, 3, 10, 12, 29, tzinfo=UTC)
    )
    assert point.ts.tzinfo is UTC


# --- rollup -----------------------------------------------------------------------------------


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in March 2025, UTC."""
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC)


async def test_rollup_hourly_and_daily(store: Store) -> None:
    for ts, value in [
        (at(10, 10, 5), 3),
        (at(10, 10, 20), 1),
        (at(10, 10, 50), 2),
        (at(10, 11, 10), 5),
        (at(10, 11, 40), 4),
        (at(11, 0, 30), 7),
    ]:
        await poll(store, reading(value=value, ts=ts))
    await poll(store, reading("storage", 9, resource="db-1", ts=at(10, 10, 30)))

    now = at(11, 0, 45)  # hour 00 of the 11th is not complete yet
    assert await store.rollup(now) == 3 + 2  # three hourly buckets, two daily
    assert await store.rollup(now) == 0  # idempotent
    assert await store.rollups("acc-a", "requests", None, "hour", DAY1) == [
        RollupPoint(at(10, 10), min=1, max=3, last=2, count=3),
        RollupPoint(at(10, 11), min=4, max=5, last=4, count=2),
    ]
    assert await store.rollups("acc-a", "storage", "db-1", "hour", DAY1) == [
        RollupPoint(at(10, 10), min=9, max=9, last=9, count=1)
    ]
    assert await store.rollups("acc-a", "requests", None, "day", DAY1) == [
        RollupPoint(DAY1, min=1, max=5, last=4, count=5)
    ]
    assert await store.rollups("acc-a", "requests", None, "hour", at(10, 11)) == [
        RollupPoint(at(10, 11), min=4, max=5, last=4, count=2)
    ]

    assert await store.rollup(at(11, 1, 0)) == 1  # hour 00 is complete, the day is not
    assert await store.rollups("acc-a", "requests", None, "day", DAY1) == [
        RollupPoint(DAY1, min=1, max=5, last=4, count=5)
    ]
    assert await store.rollup(at(12, 0, 0)) == 1  # the 11th is complete
    assert (await store.rollups("acc-a", "requests", None, "day", at(11, 0)))[0] == RollupPoint(
        at(11, 0), min=7, max=7, last=7, count=1
    )
    assert await store.rollup(at(12, 0, 0)) == 0
    with pytest.raises(ValueError, match="granularity"):
        await store.rollups("acc-a", "requests", None, "week", DAY1)  # type: ignore[arg-type]


async def test_rollup_of_an_empty_store_writes_nothing(store: Store) -> None:
    assert await store.rollup(T0) == 0
    assert await store.rollup(T0 + timedelta(days=3)) == 0


async def test_rollup_refolds_an_hour_that_gets_a_late_sample(store: Store) -> None:
    await poll(store, reading(value=3, ts=at(10, 10, 5)))
    await poll(store, reading(value=4, ts=at(10, 10, 15)))
    assert await store.rollup(at(11, 2)) == 2
    await poll(store, reading(value=100, ts=at(10, 10, 30)))  # late: that hour was folded
    assert await store.rollup(at(11, 2)) == 2  # the hour and its day again
    assert await store.rollups("acc-a", "requests", None, "hour", DAY1) == [
        RollupPoint(at(10, 10), min=3, max=100, last=100, count=3)
    ]
    assert await store.rollups("acc-a", "requests", None, "day", DAY1) == [
        RollupPoint(DAY1, min=3, max=100, last=100, count=3)
    ]


async def test_rollup_spans_gaps_and_backlogs(store: Store) -> None:
    moments = [at(1, 3, 10), at(1, 20, 0), at(2, 1, 0), at(28, 23, 59)]
    for i, ts in enumerate(moments):
        await poll(store, reading(value=i, ts=ts))
    assert await store.rollup(at(29, 0, 0)) == 4 + 3
    days = await store.rollups("acc-a", "requests", None, "day", at(1, 0))
    assert [(d.bucket_start, d.count, d.last) for d in days] == [
        (at(1, 0), 2, 1),
        (at(2, 0), 1, 2),
        (at(28, 0), 1, 3),
    ]


# --- retention --------------------------------------------------------------------------------


async def test_retention_deletes_only_old_rows_and_keeps_unrolled_samples(store: Store) -> None:
    now = at(20, 12, 0)
    old_a, old_b, recent = at(5, 10, 0), at(6, 10, 0), at(20, 10, 0)
    for ts in (old_a, old_b, recent):
        await poll(store, reading(value=1, ts=ts))
    await store.rollup(at(5, 11, 0))  # only old_a's hour is folded; its day is not complete

    days7, days30 = timedelta(days=7), timedelta(days=30)
    deleted = await store.apply_retention(
        now, samples=days7, hourly=timedelta(days=1), daily=days30, runs=days7
    )
    # old_a: old and folded; old_b: old but not folded yet. Old_a's hourly bucket is older than
    # a day but its day is not folded, so it stays. Two runs are older than a week.
    assert deleted == {
        "sample": 1,
        "rollup_hourly": 0,
        "rollup_daily": 0,
        "collector_run": 2,
        "outbox": 0,
        "alert_state": 0,
    }
    assert [p.ts for p in await store.samples("acc-a", "requests", None, at(1, 0))] == [
        old_b,
        recent,
    ]

    await store.rollup(now)
    deleted = await store.apply_retention(
        now, samples=days7, hourly=timedelta(days=1), daily=days30, runs=days7
    )
    assert deleted == {
        "sample": 1,
        "rollup_hourly": 2,
        "rollup_daily": 0,
        "collector_run": 0,
        "outbox": 0,
        "alert_state": 0,
    }
    assert [p.ts for p in await store.samples("acc-a", "requests", None, at(1, 0))] == [recent]
    assert [
        r.bucket_start for r in await store.rollups("acc-a", "requests", None, "hour", DAY1)
    ] == [at(20, 10)]
    assert len(await store.rollups("acc-a", "requests", None, "day", at(1, 0))) == 2

    deleted = await store.apply_retention(
        now, samples=days7, hourly=timedelta(days=1), daily=timedelta(days=10), runs=days7
    )
    assert deleted["rollup_daily"] == 2
    assert await store.rollups("acc-a", "requests", None, "day", at(1, 0)) == []
    [latest] = await store.latest()  # retention never touches the series' latest value
    assert latest.ts == recent
    with pytest.raises(ValueError, match="positive"):
        await store.apply_retention(
            now, samples=timedelta(0), hourly=days7, daily=days7, runs=days7
        )


async def test_retention_deletes_in_batches(store: Store) -> None:
    for minute in range(0, 50, 10):
        await poll(store, reading(value=minute, ts=at(1, 10, minute)))
    await store.rollup(at(2, 0))
    store._delete_batch = 2
    deleted = await store.apply_retention(
        at(20, 0),
        samples=timedelta(days=1),
        hourly=timedelta(days=365),
        daily=timedelta(days=365),
        runs=timedelta(days=1),
    )
    assert deleted == {
        "sample": 5,
        "rollup_hourly": 0,
        "rollup_daily": 0,
        "collector_run": 5,
        "outbox": 0,
        "alert_state": 0,
    }
    assert await count_rows(store, "sample") == 0


async def test_concurrent_writers(store: Store) -> None:
    base = at(10, 0)

    async def one(i: int) -> None:
        ts = base + timedelta(minutes=i)
        await store.record_poll(
            run_record(ts, readings=2),
            [reading(value=i, ts=ts), reading("storage", i, resource="db", ts=ts)],
            {"i": i},
        )

    results = await asyncio.gather(
        *(one(i) for i in range(40)),
        store.rollup(base + timedelta(minutes=20)),
        store.apply_retention(
            base,
            samples=timedelta(days=1),
            hourly=timedelta(days=1),
            daily=timedelta(days=1),
            runs=timedelta(days=1),
        ),
        return_exceptions=True,
    )
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert await count_rows(store, "sample") == 80
    [status] = await store.account_statuses()
    assert status.runs_total == 40


# --- read-only, backup, SQLite specifics ------------------------------------------------------


async def test_readonly_store_reads_but_cannot_write(store_url: str) -> None:
    writer = await Store.open(store_url)
    reader = await Store.open(store_url, readonly=True)
    try:
        await poll(writer, reading(value=5))
        assert [r.value for r in await reader.latest()] == [5.0]
        with pytest.raises(StoreError, match=r"recording a poll failed.*read-?only"):
            await poll(reader, reading(value=6, ts=T0 + timedelta(minutes=1)))
        with pytest.raises(StoreError, match="opened read-only"):
            await reader.migrate()
        await poll(writer, reading(value=7, ts=T0 + timedelta(minutes=2)))  # writer unaffected
        assert [r.value for r in await reader.latest()] == [7.0]
    finally:
        await reader.close()
        await writer.close()


async def test_readonly_open_of_missing_or_empty_sqlite(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(StoreError, match=r"cannot open database at sqlite:///.*missing\.db"):
        await Store.open(f"sqlite:///{missing}", readonly=True)
    assert not missing.exists()
    empty = tmp_path / "empty.db"
    await (await Store.open(f"sqlite:///{empty}", migrate=False)).close()
    with pytest.raises(StoreError, match="no quota-watch schema"):
        await Store.open(f"sqlite:///{empty}", readonly=True)


async def test_sqlite_connection_settings(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 'qw.db'}")
    async with store, store.engine.connect() as conn:
        pragmas = {
            name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        }
    assert pragmas == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 5000,
        "synchronous": 1,
    }
    with sqlite3.connect(tmp_path / "qw.db") as raw:  # WAL is a property of the file
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_backup(tmp_path: Path) -> None:
    source = tmp_path / "live.db"
    target = tmp_path / "backups" / "copy.db"
    target.parent.mkdir()
    async with await Store.open(f"sqlite:///{source}") as store:
        for i in range(20):
            await poll(store, reading(value=i, ts=T0 + timedelta(minutes=i)))

        async def keep_writing() -> None:
            for i in range(20, 60):
                await poll(store, reading(value=i, ts=T0 + timedelta(minutes=i)))

        await asyncio.gather(store.backup(target), keep_writing())
        original = await store.samples("acc-a", "requests", None, T0)

        with pytest.raises(StoreError, match="refusing to overwrite"):
            await store.backup(target)
        with pytest.raises(StoreError, match="not a directory"):
            await store.backup(tmp_path / "nowhere" / "x.db")
    assert [p.name for p in target.parent.iterdir()] == ["copy.db"]  # no partial file left behind

    with sqlite3.connect(target) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        copied_rows = raw.execute("SELECT count(*) FROM sample").fetchone()[0]
    assert 20 <= copied_rows <= 60
    async with await Store.open(f"sqlite:///{target}", readonly=True) as copy:
        copied = await copy.samples("acc-a", "requests", None, T0)
        assert copied == original[: len(copied)]  # a consistent prefix of what was written
        [status] = await copy.account_statuses()
        assert status.runs_total == len(copied)  # samples and runs from the same snapshot


async def test_backup_of_postgresql_is_refused(tmp_path: Path) -> None:
    # No server needed: the engine connects lazily and backup refuses before any I/O.
    store = Store(parse_database_url("postgresql://qw@127.0.0.1:1/quota"), readonly=False)
    try:
        with pytest.raises(StoreError, match="only for SQLite; use pg_dump"):
            await store.backup(tmp_path / "x.db")
    finally:
        await store.close()
    assert not (tmp_path / "x.db").exists()


# --- URLs and secrets -------------------------------------------------------------------------


def test_url_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    relative = parse_database_url("sqlite:///data/qw.db")
    assert relative.sqlite_path == tmp_path / "data" / "qw.db"
    assert relative.url.drivername == "sqlite+aiosqlite"
    assert relative.display == f"sqlite:///{tmp_path}/data/qw.db"
    assert parse_database_url("sqlite:////srv/qw.db").sqlite_path == Path("/srv/qw.db")
    assert parse_database_url("sqlite+aiosqlite:////srv/qw.db").sqlite_path == Path("/srv/qw.db")
    for url in (
        "postgres://qw@db.example:5432/quota",
        "postgresql://qw@db.example:5432/quota",
        "postgresql+asyncpg://qw@db.example:5432/quota",
    ):
        parsed = parse_database_url(url)
        assert parsed.dialect == "postgresql"
        assert parsed.url.drivername == "postgresql+asyncpg"
        assert parsed.display == "postgresql://qw@db.example:5432/quota"
    ssl = parse_database_url("postgresql://qw@db/quota?sslmode=require")
    assert dict(ssl.url.query) == {"ssl": "require"}
    for bad, message in [
        ("sqlite://", "needs a database file path"),
        ("sqlite:///:memory:", "needs a database file path"),
        ("mysql://qw@db/quota", "unsupported database URL scheme"),
        ("not a url", "not a database URL"),
    ]:
        with pytest.raises(StoreError, match=message):
            parse_database_url(bad)


async def test_sqlite_parent_directory_is_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "qw.db"
    async with await Store.open(f"sqlite:///{path}") as store:
        assert store.dialect == "sqlite"
        assert store.display_url == f"sqlite:///{path}"
    assert path.is_file()


async def test_passwords_never_show(tmp_path: Path) -> None:
    secret = "s3cr3t-Pa55"
    parsed = parse_database_url(f"postgresql://qw:{secret}@127.0.0.1:5432/quota")
    assert secret not in parsed.display and "qw:***@" in parsed.display
    assert secret not in repr(parsed.url)
    for bad in (f"mysql://qw:{secret}@db/x", f"postgresql://qw:{secret}@db:notaport/x"):
        with pytest.raises(StoreError) as caught:
            parse_database_url(bad)
        assert secret not in str(caught.value)
    # Port 1 on loopback refuses at once: the connection error names the masked URL only.
    with pytest.raises(
        StoreError, match=r"cannot open database at postgresql://qw:\*\*\*@"
    ) as caught:
        await Store.open(f"postgresql://qw:{secret}@127.0.0.1:1/quota")
    assert secret not in str(caught.value)
    assert mask_url_text(f"x postgres://u:{secret}@h/db y") == "x postgres://u:***@h/db y"
