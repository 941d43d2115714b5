"""Schema 0004: a series' period zone and the provider's forecast, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from quota_watch.store.facade import Store
from quota_watch.store.models import RunRecord, StoredReading
from quota_watch.store.revision import HEAD_REVISION
from tests.support import oldschema

T0 = datetime(2026, 11, 22, 10, tzinfo=UTC)
START = datetime(2026, 11, 17, 8, tzinfo=UTC)
END = datetime(2026, 12, 17, 8, tzinfo=UTC)


def reading(value: float, **changes: Any) -> StoredReading:
    fields: dict[str, Any] = {
        "provider": "netlify",
        "account": "team",
        "limit": "bandwidth",
        "resource": None,
        "unit": "bytes",
        "measure": "cumulative",
        "value": value,
        "cap": 100.0,
        "cap_source": "api",
        "period_start": START,
        "period_end": END,
        "ts": T0,
    }
    fields.update(changes)
    return StoredReading(**fields)


def run(ts: datetime = T0) -> RunRecord:
    return RunRecord("netlify", "team", ts - timedelta(seconds=1), ts, "success", None, 1)


def _alembic(action: str, revision: str) -> Any:
    def go(conn: Connection) -> None:
        from alembic import command

        from quota_watch.store._migrate import alembic_config

        getattr(command, action)(alembic_config(conn), revision)

    return go


async def _series_columns(store: Store) -> set[str]:
    async with store.engine.connect() as conn:
        return await conn.run_sync(
            lambda c: {col["name"] for col in inspect(c).get_columns("series")}
        )


async def test_zone_and_forecast_round_trip(store: Store) -> None:
    stored = reading(42.0, period_zone="America/Los_Angeles", forecast=130.5)
    await store.record_poll(run(), [stored])
    assert await store.latest() == [stored]
    # A later reading without them clears them: they describe the latest reading only.
    later = reading(50.0, ts=T0 + timedelta(hours=1))
    await store.record_poll(run(T0 + timedelta(hours=1)), [later])
    assert await store.latest() == [later]


async def test_migration_0004_adds_and_drops_the_columns(store_url: str) -> None:
    async with await Store.open(store_url, migrate=False) as old:
        async with old.engine.begin() as conn:
            await conn.run_sync(_alembic("upgrade", "0003"))
        assert not {"period_zone", "forecast"} & await _series_columns(old)
        await oldschema.insert_reading(old, reading(42.0))
    async with await Store.open(store_url) as store:  # migrates at open
        assert await store.schema_revision() == HEAD_REVISION == "0005"
        [kept] = await store.latest()
        assert (kept.value, kept.period_end, kept.period_zone, kept.forecast) == (
            42.0,
            END,
            None,
            None,
        )
        newer = reading(43.0, ts=T0 + timedelta(hours=1), forecast=99.0)
        await store.record_poll(run(T0 + timedelta(hours=1)), [newer])
        assert (await store.latest())[0].forecast == 99.0
        async with store.engine.begin() as conn:
            await conn.run_sync(_alembic("downgrade", "0003"))
        assert not {"period_zone", "forecast"} & await _series_columns(store)
        assert await oldschema.latest_values(store) == [43.0]
        assert await store.migrate() == HEAD_REVISION
