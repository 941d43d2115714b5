"""What the report reads: the daemon's stored forecasts (schema 0003), the bulk rollup read,
the read-only sqlite3 reader that answers exactly as the Store does, and the positions the
stored forecasts give equal to those computed on the fly."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from quota_watch.engine.rulepack import load_rule_pack
from quota_watch.engine.signals import Signal
from quota_watch.model import Silence
from quota_watch.reporting.command import account_runtimes, open_reader
from quota_watch.reporting.render import to_json
from quota_watch.status.position import forecast_record, load_positions, signal_of
from quota_watch.store import queries
from quota_watch.store.facade import Store
from quota_watch.store.models import RunRecord, StoredForecast, StoredReading
from quota_watch.store.revision import HEAD_REVISION
from quota_watch.store.sqlite_reader import SQLiteReader, simple_sqlite_path
from tests.support import oldschema, report_site
from tests.support.factories import make_alert
from tests.support.report_site import NOW, Site, assert_snapshot, build_site, readings

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)

site_template = report_site.site_template  # the fixtures, shared
site = report_site.site


def reading(value: float, ts: datetime = T0, resource: str | None = None) -> StoredReading:
    return StoredReading(
        provider="cloudflare",
        account="acc-a",
        limit="requests",
        resource=resource,
        unit="count",
        measure="cumulative",
        value=value,
        cap=100.0,
        cap_source="catalogue",
        period_start=T0.replace(hour=0),
        period_end=T0.replace(hour=0) + timedelta(days=1),
        ts=ts,
    )


def forecast(resource: str | None = None, **changes: Any) -> StoredForecast:
    base = StoredForecast(
        account="acc-a",
        limit="requests",
        resource=resource,
        computed_at=T0,
        active=True,
        sustained=None,
        severity="warning",
        value=42.0,
        cap=100.0,
        ratio=0.42,
        forecast_value=130.0,
        forecast_utilization=1.3,
        exhausts_at=T0 + timedelta(hours=5),
        rate=0.002,
        unit="count",
        points_used=7,
        notes=("a note", "another"),
    )
    return dataclasses.replace(base, **changes)


async def record(store: Store, *rows: StoredReading) -> None:
    run = RunRecord("cloudflare", "acc-a", T0, T0 + timedelta(seconds=1), "success", None, 1)
    await store.record_poll(run, list(rows))


# --- stored forecasts -------------------------------------------------------------------------


async def test_forecasts_are_saved_with_the_alerts_and_replaced(store: Store) -> None:
    await record(store, reading(42.0), reading(7.0, resource="r1"))
    assert await store.forecasts_of_accounts(["acc-a"]) == {}
    await store.save_alerts([make_alert(T0)], [], forecasts=[forecast(), forecast("r1")])
    found = await store.forecasts_of_accounts(["acc-a", "other"])
    assert found == {
        ("acc-a", "requests", None): forecast(),
        ("acc-a", "requests", "r1"): forecast("r1"),
    }
    assert [a.fingerprint for a in await store.load_alerts()] == [make_alert(T0).fingerprint]

    later = forecast(computed_at=T0 + timedelta(minutes=10), sustained=False, exhausts_at=None)
    later = dataclasses.replace(later, notes=(), forecast_value=None, forecast_utilization=None)
    await store.save_alerts([], [], forecasts=[later, forecast(limit="unknown")])
    found = await store.forecasts_of_accounts(["acc-a"])
    assert found[("acc-a", "requests", None)] == later  # replaced; an unknown series ignored
    assert len(found) == 2


async def test_a_bad_forecast_writes_nothing(store: Store) -> None:
    await record(store, reading(42.0))
    with pytest.raises(ValueError, match="forecast_value must be finite"):
        await store.save_alerts([make_alert(T0)], [], forecasts=[forecast(forecast_value=math.inf)])
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.save_alerts([], [], forecasts=[forecast(computed_at=T0.replace(tzinfo=None))])
    assert await store.load_alerts() == []
    assert await store.forecasts_of_accounts(["acc-a"]) == {}


def test_a_signal_survives_the_round_trip() -> None:
    signal = Signal(
        kind="forecast",
        active=True,
        sustained=True,
        severity="warning",
        value=10.0,
        cap=20.0,
        ratio=0.5,
        forecast_value=25.0,
        forecast_utilization=1.25,
        exhausts_at=T0,
        rate=0.1,
        unit="count",
        points_used=9,
        notes=("x",),
    )
    stored = forecast_record("acc-a", "requests", None, signal, T0)
    assert stored is not None and signal_of(stored) == signal
    assert (
        forecast_record("acc-a", "requests", None, dataclasses.replace(signal, rate=math.nan), T0)
        is None
    )


async def test_rollups_of_accounts_is_rollups_in_bulk(store: Store) -> None:
    for step in range(30):
        ts = T0 - timedelta(hours=20) + step * timedelta(minutes=40)
        await record(store, dataclasses.replace(reading(float(step), ts)))
        await record(store, dataclasses.replace(reading(float(step * 2), ts, resource="r1")))
    await store.rollup(T0 + timedelta(days=1))
    since = T0 - timedelta(hours=12)
    for granularity in ("hour", "day"):
        bulk = await store.rollups_of_accounts(["acc-a", "nobody"], granularity, since)
        assert set(bulk) == {("acc-a", "requests", None), ("acc-a", "requests", "r1")}
        for (_account, limit, resource), points in bulk.items():
            assert points == await store.rollups("acc-a", limit, resource, granularity, since)
            assert points
    assert await store.rollups_of_accounts([], "hour", since) == {}


async def test_daily_maxima_are_the_rollups_maxima_by_day(store: Store) -> None:
    start = T0.replace(hour=0) - timedelta(days=3)
    for step in range(3 * 24 + 10):  # hourly polls over three days and ten hours
        ts = start + timedelta(hours=step)
        value = float((step * 37) % 101)  # goes up and down: the maximum is not the last
        await record(store, reading(value, ts), reading(value * 2, ts, resource="r1"))
    await store.rollup(T0.replace(hour=0))  # days folded; today's hours not yet
    await record(store, reading(500.0, T0 + timedelta(hours=1)))  # after the fold: not included
    await store.rollup(T0)  # today's first hours into rollup_hourly, no daily bucket yet
    since = start + timedelta(days=1)
    maxima = await store.daily_maxima(["acc-a"], since)
    assert set(maxima) == {("acc-a", "requests", None), ("acc-a", "requests", "r1")}
    for (account, limit, resource), days in maxima.items():
        hourly = await store.rollups(account, limit, resource, "hour", since)
        expected: dict[datetime, float] = {}
        for point in hourly:
            if point.bucket_start < T0:
                day = point.bucket_start.replace(hour=0)
                expected[day] = max(expected.get(day, point.max), point.max)
        assert days == sorted(expected.items())
        assert [d for d, _ in days] == [since + timedelta(days=i) for i in range(3)]
        assert all(d.tzinfo is UTC for d, _ in days)
    assert await store.daily_maxima([], since) == {}


async def test_forecasts_wait_for_a_write_or_the_flush_interval(tmp_path: Path) -> None:
    from quota_watch.collect.poller import Poller
    from quota_watch.config.load import validate_config
    from quota_watch.daemon.alerting import FORECAST_FLUSH, Alerting
    from quota_watch.sdk import Reading
    from tests.support.fakes import FakeCollector, account, runtime

    clock = [T0]
    store = await Store.open(f"sqlite:///{tmp_path / 'qw.db'}")
    try:
        alerting = Alerting(store, validate_config({}, None, {}), lambda: clock[0])
        poller = Poller(store, lambda: clock[0])
        rt = runtime(account())

        async def poll(value: float) -> dict[Any, StoredForecast]:
            FakeCollector.script = [[Reading("requests", value)]]
            await alerting.after_poll(rt, await poller.poll(rt))
            clock[0] += FORECAST_FLUSH / 2
            return await store.forecasts_of_accounts(["a1"])

        assert await poll(10_000) == {}  # quiet: nothing else written, the forecast waits
        assert await poll(11_000) == {}
        flushed = await poll(12_000)  # FORECAST_FLUSH after the first one waited
        assert [f.value for f in flushed.values()] == [12_000]
        assert await poll(13_000) == flushed  # waits again
        (critical,) = (await poll(150_000)).values()  # an alert state is written: it rides along
        assert critical.value == 150_000 and critical.computed_at == clock[0] - FORECAST_FLUSH / 2
        await poll(151_000)
        await alerting.flush_forecasts()  # at shutdown
        ((_, last),) = (await store.forecasts_of_accounts(["a1"])).items()
        assert last.value == 151_000
    finally:
        FakeCollector.script = []
        await store.close()


async def test_concurrent_polls_write_a_due_batch_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from quota_watch.collect.poller import Poller
    from quota_watch.config.load import validate_config
    from quota_watch.daemon.alerting import FORECAST_FLUSH, Alerting
    from quota_watch.sdk import Reading
    from tests.support.fakes import FakeCollector, account, runtime

    clock = [T0]
    store = await Store.open(f"sqlite:///{tmp_path / 'qw.db'}")
    try:
        alerting = Alerting(store, validate_config({}, None, {}), lambda: clock[0])
        poller = Poller(store, lambda: clock[0])
        runtimes = [runtime(account(f"a{i}")) for i in range(12)]
        FakeCollector.script = [[Reading("requests", 1_000.0)] for _ in runtimes]
        results = [await poller.poll(rt) for rt in runtimes]
        await alerting.after_poll(runtimes[0], results[0])  # one forecast waiting
        clock[0] += FORECAST_FLUSH
        batches: list[int] = []
        save = store.save_alerts

        async def counting(*args: Any, **kwargs: Any) -> Any:
            if kwargs.get("forecasts"):
                batches.append(len(kwargs["forecasts"]))
            return await save(*args, **kwargs)

        monkeypatch.setattr(store, "save_alerts", counting)
        polls = zip(runtimes, results, strict=True)
        await asyncio.gather(*(alerting.after_poll(rt, r) for rt, r in polls))
        await alerting.flush_forecasts()
        # The first poll to find the batch due writes it; the others queue theirs for the
        # final flush. Nothing is written twice (a0 may be in both: its older forecast first).
        assert len(batches) == 2 and sum(batches) in (12, 13)
        assert len(await store.forecasts_of_accounts([rt.config.name for rt in runtimes])) == 12
    finally:
        FakeCollector.script = []
        await store.close()


# --- migration 0003 ---------------------------------------------------------------------------


def _alembic(action: str, revision: str) -> Any:
    def run(conn: Connection) -> None:
        from alembic import command

        from quota_watch.store._migrate import alembic_config

        getattr(command, action)(alembic_config(conn), revision)

    return run


async def _tables(store: Store) -> set[str]:
    async with store.engine.connect() as conn:
        return await conn.run_sync(lambda c: set(inspect(c).get_table_names()))


async def test_migration_0003_adds_and_drops_the_forecast_table(store_url: str) -> None:
    async with await Store.open(store_url, migrate=False) as old:
        async with old.engine.begin() as conn:
            await conn.run_sync(_alembic("upgrade", "0002"))
        assert "series_forecast" not in await _tables(old)
        await oldschema.insert_reading(old, reading(42.0))
    async with await Store.open(store_url) as store:  # migrates at open
        assert await store.schema_revision() == HEAD_REVISION
        assert "series_forecast" in await _tables(store)
        assert [r.value for r in await store.latest()] == [42.0]
        await store.save_alerts([], [], forecasts=[forecast()])
        assert list(await store.forecasts_of_accounts(["acc-a"])) == [("acc-a", "requests", None)]
        async with store.engine.begin() as conn:
            await conn.run_sync(_alembic("downgrade", "0002"))
        assert "series_forecast" not in await _tables(store)
        assert await oldschema.latest_values(store) == [42.0]
        assert await store.migrate() == HEAD_REVISION
        assert await store.forecasts_of_accounts(["acc-a"]) == {}


async def test_a_schema_behind_is_refused_by_the_reader(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    async with await Store.open(url, migrate=False) as old, old.engine.begin() as conn:
        await conn.run_sync(_alembic("upgrade", "0002"))
    from quota_watch.store.models import StoreError

    with pytest.raises(
        StoreError, match=f"schema revision 0002, this quota-watch needs {HEAD_REVISION}"
    ):
        SQLiteReader.open(tmp_path / "old.db")
    with pytest.raises(StoreError, match="no such file"):
        SQLiteReader.open(tmp_path / "missing.db")


# --- the reader answers as the Store does ---------------------------------------------------


def test_simple_sqlite_urls_only() -> None:
    assert simple_sqlite_path("sqlite:////var/lib/qw.db") == Path("/var/lib/qw.db")
    assert simple_sqlite_path("sqlite+aiosqlite:////var/lib/qw.db") == Path("/var/lib/qw.db")
    assert simple_sqlite_path("sqlite:///rel.db") == Path("rel.db").resolve()
    for other in (
        "sqlite:///:memory:",
        "sqlite:///file:x.db",
        "sqlite:////a%20b.db",
        "sqlite:////x.db?mode=ro",
        "postgresql://u@h/db",
    ):
        assert simple_sqlite_path(other) is None


async def test_the_reader_answers_every_query_as_the_store(site: Site) -> None:
    path = simple_sqlite_path(site.store_url)
    assert path is not None
    writer = await Store.open(site.store_url)
    try:
        for hours in (-2, 2):  # one over, one in force
            ends = NOW + timedelta(hours=hours)
            start = ends - timedelta(hours=4)
            await writer.add_silence(
                Silence(None, {"account": "gh"}, start, ends, "r", "me", start)
            )
    finally:
        await writer.close()
    reader = SQLiteReader.open(path)
    store = await Store.open(site.store_url, readonly=True)
    try:
        accounts = ["cf-main", "gh", "old", "free", "nobody"]
        since = NOW - timedelta(days=3)
        assert await reader.latest() == await store.latest()
        assert await reader.latest(accounts=accounts[:2]) == await store.latest(
            accounts=accounts[:2]
        )
        assert await reader.latest(accounts=[]) == []
        assert await reader.account_statuses() == await store.account_statuses()
        assert await reader.account_statuses(account="gh") == await store.account_statuses(
            account="gh"
        )
        for kwargs in ({}, {"include_resolved": True}, {"account": "cf-main"}):
            assert await reader.load_alerts(**kwargs) == await store.load_alerts(**kwargs)
        assert await store.load_alerts()  # the site has firing alerts: the check is not empty
        stored = await store.forecasts_of_accounts(accounts)
        assert stored and await reader.forecasts_of_accounts(accounts) == stored
        samples = await store.samples_of_accounts(accounts, since, NOW)
        assert samples and await reader.samples_of_accounts(accounts, since, NOW) == samples
        oldest = await store.oldest_samples(accounts, since)
        assert oldest and await reader.oldest_samples(accounts, since) == oldest
        maxima = await store.daily_maxima(accounts, since)
        assert maxima and await reader.daily_maxima(accounts, since) == maxima
        assert await reader.daily_maxima([], since) == {}
        for expired in (False, True):
            silences = await store.list_silences(NOW, include_expired=expired)
            assert len(silences) == (2 if expired else 1)
            assert await reader.list_silences(NOW, include_expired=expired) == silences
        for granularity in ("hour", "day"):
            bulk = await store.rollups_of_accounts(accounts, granularity, since)
            assert bulk
            assert await reader.rollups_of_accounts(accounts, granularity, since) == bulk
    finally:
        await reader.close()
        await store.close()


async def test_open_reader_picks_the_reader_for_plain_sqlite_urls(site: Site) -> None:
    reader = await open_reader(site.store_url)
    try:
        assert isinstance(reader, SQLiteReader)
    finally:
        await reader.close()


# --- stored forecasts give the same positions -------------------------------------------------


async def test_stored_forecasts_give_the_positions_computed_on_the_fly(site: Site) -> None:
    config = site.config()
    runtimes = account_runtimes(config, lambda _a: True)
    pack = load_rule_pack(config.settings.alerts.rule_pack)
    rules = config.settings.rules
    store = await Store.open(site.store_url)
    try:
        stored = await store.forecasts_of_accounts(set(runtimes))
        assert {f.computed_at for f in stored.values()} == {NOW}
        assert len(stored) == 8  # every series but the stopped account's
        fast = await load_positions(store, runtimes, pack, rules, NOW)
        slow = await load_positions(store, runtimes, pack, rules, NOW, stored_forecasts=False)
        assert fast == slow
        assert any(p.forecast and p.forecast.exhausts_at for p in fast)

        # A poll stored without the rules (collect --once): that series' forecast is stale,
        # so it is computed from the samples instead.
        later = NOW + timedelta(minutes=15)
        newer = readings("gh", later, runtimes["gh"])
        run = RunRecord("http_json", "gh", later, later, "success", None, len(newer))
        await store.record_poll(run, newer)
        again = await load_positions(store, runtimes, pack, rules, later)
        fresh = await load_positions(store, runtimes, pack, rules, later, stored_forecasts=False)
        for mine, computed in zip(again, fresh, strict=True):
            key = (mine.reading.account, mine.reading.limit, mine.reading.resource)
            if key[0] == "gh":
                assert mine == computed
                assert mine.forecast is not None and mine.forecast.value == newer[0].value
            elif key in stored:  # the others keep the daemon's forecast of their last poll
                assert mine.forecast == signal_of(stored[key])
                assert dataclasses.replace(mine, forecast=None) == dataclasses.replace(
                    computed, forecast=None
                )
    finally:
        await store.close()


@pytest.fixture
async def pg_site(store_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    yield await build_site(tmp_path, store_url)


async def test_the_report_reads_either_backend_alike(pg_site: Site) -> None:
    from quota_watch.reporting.command import read_entries

    config = pg_site.config()
    runtimes = account_runtimes(config, lambda _a: True)
    entries = await read_entries(pg_site.store_url, config, runtimes, NOW)
    statuses = {(e.row.account, e.row.limit, e.row.resource): e.row.status for e in entries}
    assert statuses[("cf-main", "bucket_ops", "logs")] == "critical"
    assert statuses[("old", "requests", None)] == "stale"
    assert all(len(e.trend) == 15 for e in entries)
    assert_snapshot("report.json", to_json(entries) + "\n")  # what the SQLite site shows


async def test_daily_maxima_skip_a_series_created_between_their_two_reads() -> None:
    # The series' names are read first, their maxima next: a series created and rolled up in
    # between has maxima but no name yet. It is left for the next report, not a KeyError.
    day = datetime(2026, 11, 20, tzinfo=UTC)

    async def rows(sql: str, params: Mapping[str, Any]) -> Sequence[Sequence[Any]]:
        if "rollup_state" in sql:
            return []
        if sql.startswith("SELECT id, account"):
            return [(1, "acc-a", "requests", None)]
        if "rollup_daily" in sql:
            return [(1, day, 5.0), (2, day, 7.0)]  # series 2: created after the names' read
        return [(1, day, 6.0)]

    maxima = await queries.daily_maxima(rows, "sqlite", ["acc-a"], day - timedelta(days=1))
    assert maxima == {("acc-a", "requests", None): [(day, 6.0)]}
