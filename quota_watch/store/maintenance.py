"""Maintenance: folding samples into hourly and daily rollups, and retention."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Table, and_, func, literal_column, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from quota_watch.store.common import DAY, HOUR, floor_day, floor_hour, require_aware
from quota_watch.store.engine import Cutoff, fixed_cutoff
from quota_watch.store.outbox import OutboxMixin
from quota_watch.store.queries import bucket_sql
from quota_watch.store.tables import (
    ALERT_STATE,
    COLLECTOR_RUN,
    ROLLUP_DAILY,
    ROLLUP_HOURLY,
    ROLLUP_STATE,
    SAMPLE,
)

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["MaintenanceMixin"]

_FOLD_SLICE = {HOUR: timedelta(hours=6), DAY: timedelta(days=1)}
_FLOOR: dict[str, Callable[[datetime], datetime]] = {HOUR: floor_hour, DAY: floor_day}


class MaintenanceMixin(OutboxMixin):
    """The Store's rollup and retention (retention prunes the outbox too)."""

    async def rollup(self, now: datetime) -> int:
        """Fold every complete UTC hour, then every complete UTC day, not yet rolled up.

        Idempotent: a second call with the same `now` writes nothing. Returns buckets written.
        Works in short slices, each its own transaction, so a backlog never holds the writer.
        """
        require_aware("now", now)
        with self._errors("rolling up samples"):
            written = await self._fold(HOUR, floor_hour(now))
            hour_mark = await self._watermark(HOUR)
            if hour_mark is not None:
                written += await self._fold(DAY, floor_day(hour_mark))
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
        source_col = SAMPLE.c.ts if granularity == HOUR else ROLLUP_HOURLY.c.bucket_start
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

    def _fold_statement(self, granularity: str, low: datetime, high: datetime) -> Any:
        lo_val: ColumnElement[Any]
        hi_val: ColumnElement[Any]
        n: ColumnElement[Any]
        if granularity == HOUR:
            src, time_col, target = SAMPLE, SAMPLE.c.ts, ROLLUP_HOURLY
            lo_val, hi_val, n = func.min(SAMPLE.c.value), func.max(SAMPLE.c.value), func.count()
        else:
            src, time_col, target = ROLLUP_HOURLY, ROLLUP_HOURLY.c.bucket_start, ROLLUP_DAILY
            h = ROLLUP_HOURLY.c
            lo_val, hi_val, n = func.min(h["min"]), func.max(h["max"]), func.sum(h["count"])
        # A literal, the read queries' own: GROUP BY must see the very same expression.
        bucket: ColumnElement[Any] = literal_column(
            bucket_sql(self.dialect, granularity, f"{src.name}.{time_col.name}")
        )
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
        newest_time = newest.c.ts if granularity == HOUR else newest.c.bucket_start
        newest_value = newest.c.value if granularity == HOUR else newest.c["last"]
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
        require_aware("now", now)
        for name, age in (
            ("samples", samples),
            ("hourly", hourly),
            ("daily", daily),
            ("runs", runs),
        ):
            if age <= timedelta(0):
                raise ValueError(f"retention {name} must be positive, got {age}")
        hour_cut = self._folded_before(HOUR, now - samples)
        day_cut = self._folded_before(DAY, now - hourly)
        with self._errors("applying retention"):
            return {
                "sample": await self._delete_older(
                    SAMPLE, (SAMPLE.c.series_id, SAMPLE.c.ts), SAMPLE.c.ts, hour_cut
                ),
                "rollup_hourly": await self._delete_older(
                    ROLLUP_HOURLY,
                    (ROLLUP_HOURLY.c.series_id, ROLLUP_HOURLY.c.bucket_start),
                    ROLLUP_HOURLY.c.bucket_start,
                    day_cut,
                ),
                "rollup_daily": await self._delete_older(
                    ROLLUP_DAILY,
                    (ROLLUP_DAILY.c.series_id, ROLLUP_DAILY.c.bucket_start),
                    ROLLUP_DAILY.c.bucket_start,
                    fixed_cutoff(now - daily),
                ),
                "collector_run": await self._delete_older(
                    COLLECTOR_RUN,
                    (COLLECTOR_RUN.c.id,),
                    COLLECTOR_RUN.c.started_at,
                    fixed_cutoff(now - runs),
                ),
                "outbox": await self._prune_outbox(now - runs),
                "alert_state": await self._delete_older(
                    ALERT_STATE,
                    (ALERT_STATE.c.fingerprint,),
                    func.coalesce(ALERT_STATE.c.resolved_at, ALERT_STATE.c.updated_at),
                    fixed_cutoff(now - runs),
                    ALERT_STATE.c.status == "resolved",
                ),
            }

    def _folded_before(self, granularity: str, horizon: datetime) -> Cutoff:
        """The cutoff `horizon`, but never past what the `granularity` rollup has folded."""

        async def cutoff(conn: AsyncConnection) -> datetime | None:
            mark = await self._watermark(granularity, conn)
            return None if mark is None else min(horizon, mark)

        return cutoff


def _set_watermark(
    make_insert: Callable[[Table], sqlite.Insert | postgresql.Insert],
    granularity: str,
    until: datetime,
) -> Any:
    stmt = make_insert(ROLLUP_STATE).values(granularity=granularity, rolled_until=until)
    return stmt.on_conflict_do_update(
        index_elements=["granularity"], set_={"rolled_until": stmt.excluded.rolled_until}
    )
