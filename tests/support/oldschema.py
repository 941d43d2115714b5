"""Data written as an older schema holds it: plain SQL naming only the columns every revision
has, so migration tests do not depend on the current code's columns."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from quota_watch.store.facade import Store
from quota_watch.store.models import StoredReading
from quota_watch.store.queries import bind_params

_SERIES = (
    'INSERT INTO series (provider, account, "limit", resource, unit, measure, cap_source, '
    "last_ts, last_value, last_cap, period_start, period_end) VALUES (:provider, :account, "
    ":limit, :resource, :unit, :measure, :cap_source, :ts, :value, :cap, :period_start, "
    ":period_end)"
)
_SAMPLE = (
    "INSERT INTO sample (series_id, ts, value, cap) SELECT id, :ts, :value, :cap FROM series "
    'WHERE account = :account AND "limit" = :limit AND resource = :resource'
)


async def insert_reading(store: Store, reading: StoredReading) -> None:
    """One new series with one sample, in the columns of schema 0001."""
    params: dict[str, Any] = {
        "provider": reading.provider,
        "account": reading.account,
        "limit": reading.limit,
        "resource": reading.resource or "",
        "unit": reading.unit,
        "measure": reading.measure,
        "cap_source": reading.cap_source,
        "ts": reading.ts,
        "value": reading.value,
        "cap": reading.cap,
        "period_start": reading.period_start,
        "period_end": reading.period_end,
    }
    bound = bind_params(params, store.engine.dialect.name)
    async with store.engine.begin() as conn:
        await conn.execute(text(_SERIES), bound)
        await conn.execute(text(_SAMPLE), bound)


async def latest_values(store: Store) -> list[float]:
    """Every series' last value, by id."""
    async with store.engine.connect() as conn:
        rows = await conn.execute(text("SELECT last_value FROM series ORDER BY id"))
        return [float(value) for (value,) in rows]
