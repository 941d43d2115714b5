"""Readings: writing a poll (samples, series, run, account status, collector state) and
reading series back."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import case, delete, func, insert, literal, select, update

from quota_watch.model import AccountStatus, SeriesKey
from quota_watch.store import queries
from quota_watch.store.common import HOUR, floor_day, floor_hour, truncate
from quota_watch.store.engine import StoreBase
from quota_watch.store.models import Point, RollupPoint, RunRecord, StoredReading
from quota_watch.store.tables import (
    ACCOUNT_STATUS,
    COLLECTOR_RUN,
    COLLECTOR_STATE,
    ROLLUP_STATE,
    SAMPLE,
    SERIES,
    UTCDateTime,
)

__all__ = ["ReadingsMixin"]


class ReadingsMixin(StoreBase):
    """Polls in, series out: the Store's methods on series, samples, rollups and runs."""

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

    async def latest(self, *, accounts: Collection[str] | None = None) -> list[StoredReading]:
        """The newest reading of every series (of `accounts` if given): one scan of `series`."""
        async with self._reading("reading the latest values") as rows:
            return await queries.latest(rows, accounts)

    async def account_statuses(self, *, account: str | None = None) -> list[AccountStatus]:
        """Poll health of every account (or just `account`) that has run, by account name."""
        async with self._reading("reading account status") as rows:
            return await queries.account_statuses(rows, account)

    async def samples(
        self,
        account: str,
        limit: str,
        resource: str | None,
        since: datetime,
        until: datetime | None = None,
    ) -> list[Point]:
        """Raw samples of one series with since <= ts < until, oldest first."""
        async with self._reading("reading samples") as rows:
            return await queries.samples(rows, (account, limit, resource), since, until)

    async def samples_of_accounts(
        self, accounts: Collection[str], since: datetime, until: datetime
    ) -> dict[SeriesKey, list[Point]]:
        """Raw samples with since <= ts < until of every series of `accounts`, oldest first,
        by (account, limit, resource): one query instead of one per series."""
        async with self._reading("reading samples") as rows:
            return await queries.samples_of_accounts(rows, accounts, since, until)

    async def rollups(
        self,
        account: str,
        limit: str,
        resource: str | None,
        granularity: Literal["hour", "day"],
        since: datetime,
    ) -> list[RollupPoint]:
        """Hourly or daily buckets of one series starting at or after `since`, oldest first."""
        async with self._reading("reading rollups") as rows:
            return await queries.rollups(rows, (account, limit, resource), granularity, since)

    async def rollups_of_accounts(
        self,
        accounts: Collection[str],
        granularity: Literal["hour", "day"],
        since: datetime,
    ) -> dict[SeriesKey, list[RollupPoint]]:
        """Hourly or daily buckets starting at or after `since` of every series of `accounts`,
        oldest first, by (account, limit, resource): one query instead of one per series."""
        async with self._reading("reading rollups") as rows:
            return await queries.rollups_of_accounts(rows, accounts, granularity, since)

    async def daily_maxima(
        self, accounts: Collection[str], since: datetime
    ) -> dict[SeriesKey, list[tuple[datetime, float]]]:
        """Per series of `accounts` and UTC day from `since` on: the largest value the rollups
        hold (the daily bucket, or the hourly buckets of a day not folded into a daily one
        yet), oldest first. Samples not rolled up yet are not included. Three queries, the
        hourly one aggregated in the database."""
        async with self._reading("reading rollups") as rows:
            return await queries.daily_maxima(rows, self.dialect, accounts, since)


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
        "period_zone": r.period_zone,
        "forecast": r.forecast,
    }


def _run_params(run: RunRecord) -> dict[str, Any]:
    return {
        "provider": run.provider,
        "account": run.account,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "outcome": run.outcome,
        "error": truncate(run.error),
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
        "last_error": truncate(run.error),
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


def _lower_watermarks(oldest: datetime) -> Any:
    """Make the next rollup re-fold the hour and day of a sample older than the watermark."""
    rs = ROLLUP_STATE.c
    return (
        update(ROLLUP_STATE)
        .where(rs.rolled_until > oldest)
        .values(
            rolled_until=case(
                (rs.granularity == HOUR, literal(floor_hour(oldest), UTCDateTime())),
                else_=literal(floor_day(oldest), UTCDateTime()),
            )
        )
    )
