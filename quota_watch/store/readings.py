"""Readings: writing a poll (samples, series, run, account status, collector state) and
reading series back."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import bindparam, case, delete, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from quota_watch.model import AccountStatus, SeriesKey
from quota_watch.store import queries
from quota_watch.store.common import HOUR, chunks, floor_day, floor_hour, truncate
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

    # Statements built once per store, then reused (built from the store's dialect).
    _series_ids_stmt: Any = None
    _series_upsert_stmt: Any = None
    _sample_upsert_stmt: Any = None
    _status_upsert_stmt: Any = None

    # --- writing a poll -----------------------------------------------------------------------

    async def record_poll(
        self,
        run: RunRecord,
        readings: Sequence[StoredReading],
        state: Mapping[str, Any] | None = None,
    ) -> AccountStatus:
        """Store one poll atomically: samples, series, the run, account status and state;
        returns the account's status as this transaction left it (read in it, so a write of
        another process, such as `quota-watch collect`, is counted as the store counts it).

        `state` replaces the account's whole collector state (keys not in it are removed);
        None leaves it untouched. Of several readings of one series with the same ts the last
        one wins; a series' latest columns only move forward in time.

        Group commit: polls recorded while a write is under way wait and are then written
        together, in ONE transaction of batched statements (at most `_group_size` polls).
        This returns once the poll is committed; if the batch fails, each of its polls is
        retried in a transaction of its own, so one poll's error is only its own.
        """
        status: AccountStatus = await self._group_commit(
            "recording a poll", poll=_prepare_poll(run, readings, state)
        )
        return status

    async def _write_polls(
        self, conn: AsyncConnection, polls: Sequence[Any]
    ) -> dict[str, AccountStatus]:
        """Write `polls` (in order) in the group's transaction, each kind of row in one
        statement; the accounts' statuses as they now are."""
        series = [p for poll in polls for p in poll.series]
        runs = [poll.run for poll in polls]
        statuses = [poll.status for poll in polls]
        states: dict[str, list[dict[str, str]]] = {}
        for poll in polls:  # of two polls of one account the later state wins
            if poll.state is not None:
                states[poll.account] = poll.state
        if series:
            await conn.execute(self._series_upsert(), series)
            accounts = sorted({poll.account for poll in polls if poll.samples})
            ids: dict[tuple[str, str, str], int] = {}
            for chunk in chunks(accounts):
                for series_id, account, limit, resource in await conn.execute(
                    self._series_ids(), {"accounts": list(chunk)}
                ):
                    ids[(account, limit, resource)] = series_id
            samples: dict[tuple[int, datetime], dict[str, Any]] = {}
            for poll in polls:
                for (limit, resource, ts), (value, cap) in poll.samples.items():
                    series_id = ids[(poll.account, limit, resource)]
                    samples[(series_id, ts)] = {
                        "series_id": series_id,
                        "ts": ts,
                        "value": value,
                        "cap": cap,
                    }
            await conn.execute(self._sample_upsert(), list(samples.values()))
            oldest = min(poll.oldest for poll in polls if poll.oldest is not None)
            await conn.execute(_lower_watermarks(oldest))
        await conn.execute(insert(COLLECTOR_RUN), runs)
        await conn.execute(self._status_upsert(), statuses)
        if states:
            for chunk in chunks(sorted(states)):
                await conn.execute(
                    delete(COLLECTOR_STATE).where(COLLECTOR_STATE.c.account.in_(chunk))
                )
            rows = [row for rows in states.values() for row in rows]
            if rows:
                await conn.execute(insert(COLLECTOR_STATE), rows)
        polled = {poll.account for poll in polls}
        found = await queries.statuses_of_accounts(self._rows(conn), polled)
        return {status.account: status for status in found}

    def _series_ids(self) -> Any:
        if self._series_ids_stmt is None:
            self._series_ids_stmt = select(
                SERIES.c.id, SERIES.c.account, SERIES.c.limit, SERIES.c.resource
            ).where(SERIES.c.account.in_(bindparam("accounts", expanding=True)))
        return self._series_ids_stmt

    def _series_upsert(self) -> Any:
        if self._series_upsert_stmt is None:
            self._series_upsert_stmt = self._build_series_upsert()
        return self._series_upsert_stmt

    def _sample_upsert(self) -> Any:
        if self._sample_upsert_stmt is None:
            self._sample_upsert_stmt = self._build_sample_upsert()
        return self._sample_upsert_stmt

    def _status_upsert(self) -> Any:
        if self._status_upsert_stmt is None:
            self._status_upsert_stmt = self._build_status_upsert()
        return self._status_upsert_stmt

    def _build_series_upsert(self) -> Any:
        stmt = self._insert(SERIES)
        keys = ("account", "limit", "resource")
        return stmt.on_conflict_do_update(
            index_elements=list(keys),
            set_={c.name: stmt.excluded[c.name] for c in SERIES.c if c.name not in {"id", *keys}},
            where=SERIES.c.last_ts <= stmt.excluded.last_ts,
        )

    def _build_sample_upsert(self) -> Any:
        stmt = self._insert(SAMPLE)
        return stmt.on_conflict_do_update(
            index_elements=["series_id", "ts"],
            set_={"value": stmt.excluded.value, "cap": stmt.excluded.cap},
        )

    def _build_status_upsert(self) -> Any:
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

    async def oldest_samples(
        self, accounts: Collection[str], since: datetime
    ) -> dict[str, datetime]:
        """Account -> the time of its oldest raw sample at or after `since` (none: left out)."""
        async with self._reading("reading samples") as rows:
            return await queries.oldest_samples(rows, accounts, since)

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


@dataclass(frozen=True, slots=True)
class _PreparedPoll:
    """One poll checked and turned into statement parameters, waiting for its transaction."""

    account: str
    series: list[dict[str, Any]]  # the newest reading of each series
    samples: dict[tuple[str, str, datetime], tuple[float, float | None]]  # last one wins
    oldest: datetime | None
    run: dict[str, Any]
    status: dict[str, Any]
    state: list[dict[str, str]] | None


def _prepare_poll(
    run: RunRecord, readings: Sequence[StoredReading], state: Mapping[str, Any] | None
) -> _PreparedPoll:
    for reading in readings:
        if reading.account != run.account:
            raise ValueError(
                f"reading {reading.limit!r} is for account {reading.account!r}, "
                f"but the run is for {run.account!r}"
            )
    state_rows = None if state is None else _encode_state(run.account, state)
    newest: dict[tuple[str, str], StoredReading] = {}
    samples: dict[tuple[str, str, datetime], tuple[float, float | None]] = {}
    for reading in readings:
        key = (reading.limit, reading.resource or "")
        current = newest.get(key)
        if current is None or reading.ts >= current.ts:
            newest[key] = reading
        samples[(*key, reading.ts)] = (reading.value, reading.cap)
    return _PreparedPoll(
        account=run.account,
        series=[_series_params(r) for r in newest.values()],
        samples=samples,
        oldest=min((r.ts for r in readings), default=None),
        run=_run_params(run),
        status=_status_params(run),
        state=state_rows,
    )


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
