"""The store's read queries, shared by the SQLAlchemy Store and the sqlite3 report reader.

Each read is plain SQL with ``:name`` parameters (which sqlite3 and SQLAlchemy's ``text()``
both accept) and the mapping of its rows to value objects. The caller passes a `Rows`
function that runs one statement; it must bind datetimes with :func:`bind_params`. Nothing
here imports SQLAlchemy: the report imports this module.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from quota_watch.model import AccountStatus, AlertState, SeriesKey, Silence
from quota_watch.store.common import DAY, HOUR, chunks, floor_day, require_aware
from quota_watch.store.models import Point, RollupPoint, StoredForecast, StoredReading

__all__ = [
    "ALERT_FIELDS",
    "FORECAST_FIELDS",
    "Rows",
    "account_statuses",
    "bind_params",
    "bucket_sql",
    "daily_maxima",
    "forecasts_of_accounts",
    "latest",
    "list_silences",
    "load_alerts",
    "oldest_samples",
    "rollups",
    "rollups_of_accounts",
    "samples",
    "samples_of_accounts",
    "statuses_of_accounts",
    "to_time",
]

Rows = Callable[[str, Mapping[str, Any]], Awaitable[Sequence[Sequence[Any]]]]
"""Runs one statement with its parameters and returns all its rows."""

ALERT_FIELDS = tuple(f.name for f in dataclasses.fields(AlertState))
_ALERT_TIMES = frozenset(
    f.name for f in dataclasses.fields(AlertState) if "datetime" in str(f.type)
)
FORECAST_FIELDS = tuple(
    f.name
    for f in dataclasses.fields(StoredForecast)
    if f.name not in ("account", "limit", "resource")
)
_ROLLUP_TABLES = {HOUR: "rollup_hourly", DAY: "rollup_daily"}
_SERIES_ID = (
    '(SELECT id FROM series WHERE account = :account AND "limit" = :limit AND resource = :resource)'
)
_OF_ACCOUNTS = "@accounts"  # replaced by one :account_N per account of a chunk
_LATEST = (
    'SELECT provider, account, "limit", resource, unit, measure, last_value, last_cap, '
    "cap_source, period_start, period_end, last_ts, period_zone, forecast FROM series{where} "
    'ORDER BY account, "limit", resource'
)
_STATUSES = (
    "SELECT provider, account, last_run_at, last_success_at, last_outcome, last_error, "
    "last_duration_seconds, runs_total, failures_total, consecutive_failures "
    "FROM account_status{where} ORDER BY account"
)
_SAMPLES = (
    f"SELECT ts, value, cap FROM sample WHERE series_id = {_SERIES_ID} AND ts >= :since"
    "{until} ORDER BY ts"
)
_SAMPLES_OF_ACCOUNTS = (
    'SELECT s.account, s."limit", s.resource, p.ts, p.value, p.cap FROM sample AS p '
    "JOIN series AS s ON s.id = p.series_id WHERE p.ts >= :since AND p.ts < :until "
    f"AND s.account IN ({_OF_ACCOUNTS}) ORDER BY p.series_id, p.ts"
)
# Each series' oldest sample is one seek on the (series_id, ts) key, not a scan of its samples.
_OLDEST_SAMPLES = (
    "SELECT account, MIN(oldest) FROM (SELECT s.account AS account, (SELECT MIN(p.ts) "
    "FROM sample AS p WHERE p.series_id = s.id AND p.ts >= :since) AS oldest FROM series AS s "
    f"WHERE s.account IN ({_OF_ACCOUNTS})) AS firsts GROUP BY account"
)
_ROLLUPS = (
    'SELECT bucket_start, "min", "max", "last", "count" FROM {table} '
    f"WHERE series_id = {_SERIES_ID} AND bucket_start >= :since ORDER BY bucket_start"
)
_ROLLUPS_OF_ACCOUNTS = (
    'SELECT s.account, s."limit", s.resource, r.bucket_start, r."min", r."max", r."last", '
    'r."count" FROM {table} AS r JOIN series AS s ON s.id = r.series_id '
    f"WHERE r.bucket_start >= :since AND s.account IN ({_OF_ACCOUNTS}) "
    "ORDER BY r.series_id, r.bucket_start"
)
_WATERMARK = "SELECT rolled_until FROM rollup_state WHERE granularity = :granularity"
# Driven from `series` so that both reads are primary-key range scans. They return the
# series id, not its three names: thousands of rows, and the names are read once per series.
_SERIES_KEYS = (
    f'SELECT id, account, "limit", resource FROM series WHERE account IN ({_OF_ACCOUNTS})'
)
_DAILY_MAXIMA = (
    'SELECT s.id, r.bucket_start, r."max" FROM series AS s '
    "JOIN rollup_daily AS r ON r.series_id = s.id AND r.bucket_start >= :since "
    f"WHERE s.account IN ({_OF_ACCOUNTS})"
)
_HOURLY_MAXIMA = (
    'SELECT s.id, {day} AS day, max(r."max") FROM series AS s '
    "JOIN rollup_hourly AS r ON r.series_id = s.id AND r.bucket_start >= :since "
    f"WHERE s.account IN ({_OF_ACCOUNTS}) GROUP BY s.id, {{day}}"
)
_ALERTS = "SELECT {columns} FROM alert_state{where} ORDER BY account, fingerprint"
_FORECASTS = (
    'SELECT s.account, s."limit", s.resource, {columns} FROM series_forecast AS f '
    f"JOIN series AS s ON s.id = f.series_id WHERE s.account IN ({_OF_ACCOUNTS})"
)
_SILENCES = (
    "SELECT id, matchers, starts_at, ends_at, reason, created_by, created_at "
    "FROM silence{where} ORDER BY id"
)


# --- binding and decoding ---------------------------------------------------------------------


def bind_params(params: Mapping[str, Any], dialect: str) -> dict[str, Any]:
    """`params` with every datetime as the store keeps it: naive fixed-width UTC text on
    SQLite (compares as text), aware UTC on PostgreSQL. ValueError for a naive datetime."""
    bound = dict(params)
    for name, value in params.items():
        if isinstance(value, datetime):
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"{value.isoformat()} must be a timezone-aware datetime")
            moment = value.astimezone(UTC)
            if dialect == "sqlite":
                bound[name] = moment.replace(tzinfo=None).isoformat(" ", "microseconds")
            else:
                bound[name] = moment
    return bound


def to_time(value: Any) -> datetime:
    """A stored time (SQLite text or a driver's datetime) as an aware UTC datetime."""
    if isinstance(value, str):
        return datetime.fromisoformat(value + "+00:00")
    if not isinstance(value, datetime):
        raise TypeError(f"expected a stored time, got {type(value).__name__}")
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _opt_time(value: Any) -> datetime | None:
    return None if value is None else to_time(value)


def bucket_sql(dialect: str, granularity: str, column: str) -> str:
    """SQL for the start of the UTC hour or day of the timestamp `column`, as a literal
    expression (GROUP BY must see the very same expression as SELECT)."""
    if dialect == "sqlite":
        # SQLite keeps times as fixed-width text (`YYYY-MM-DD HH:MM:SS.ffffff`, see
        # bind_params), so the bucket is a prefix of it: what strftime() would give, without
        # its date parsing (a third less time for the report's daily maxima and the rollups).
        if granularity == HOUR:
            return f"substr({column}, 1, 13) || ':00:00.000000'"
        return f"substr({column}, 1, 10) || ' 00:00:00.000000'"
    return f"timezone('UTC', date_trunc('{granularity}', timezone('UTC', {column})))"


def _rollup_table(granularity: str) -> str:
    table = _ROLLUP_TABLES.get(granularity)
    if table is None:
        raise ValueError(f"granularity must be 'hour' or 'day', got {granularity!r}")
    return table


async def _of_accounts(
    rows: Rows, sql: str, accounts: Collection[str], params: Mapping[str, Any]
) -> list[Sequence[Any]]:
    """Rows of `sql` for every chunk of `accounts` (sorted), its @accounts filled in."""
    found: list[Sequence[Any]] = []
    for chunk in chunks(sorted(accounts)):
        names = {f"account_{i}": account for i, account in enumerate(chunk)}
        marks = ", ".join(f":{name}" for name in names)
        found.extend(await rows(sql.replace(_OF_ACCOUNTS, marks), {**params, **names}))
    return found


def _series_params(account: str, limit: str, resource: str | None) -> dict[str, Any]:
    return {"account": account, "limit": limit, "resource": resource or ""}


# --- series -----------------------------------------------------------------------------------


async def latest(rows: Rows, accounts: Collection[str] | None) -> list[StoredReading]:
    """The newest reading of every series (of `accounts` if given): one scan of `series`."""
    if accounts is None:
        found = await rows(_LATEST.format(where=""), {})
    elif not accounts:
        return []
    else:
        where = f" WHERE account IN ({_OF_ACCOUNTS})"
        found = await _of_accounts(rows, _LATEST.format(where=where), accounts, {})
    return [
        StoredReading(
            p,
            a,
            lim,
            res or None,
            u,
            m,
            v,
            cap,
            src,
            _opt_time(ps),
            _opt_time(pe),
            to_time(ts),
            zone,
            forecast,
        )
        for p, a, lim, res, u, m, v, cap, src, ps, pe, ts, zone, forecast in found
    ]


async def account_statuses(rows: Rows, account: str | None) -> list[AccountStatus]:
    """Poll health of every account (or just `account`) that has run, by account name."""
    if account is None:
        found = await rows(_STATUSES.format(where=""), {})
    else:
        found = await rows(
            _STATUSES.format(where=" WHERE account = :account"), {"account": account}
        )
    return _statuses(found)


async def statuses_of_accounts(rows: Rows, accounts: Collection[str]) -> list[AccountStatus]:
    """Poll health of those of `accounts` that have run, by account name."""
    where = f" WHERE account IN ({_OF_ACCOUNTS})"
    return _statuses(await _of_accounts(rows, _STATUSES.format(where=where), accounts, {}))


def _statuses(found: Sequence[Sequence[Any]]) -> list[AccountStatus]:
    return [
        AccountStatus(
            provider=p,
            account=a,
            last_run_at=to_time(run),
            last_success_at=_opt_time(success),
            last_outcome=outcome,
            last_error=error,
            last_duration_seconds=duration,
            runs_total=runs,
            failures_total=failures,
            consecutive_failures=consecutive,
        )
        for p, a, run, success, outcome, error, duration, runs, failures, consecutive in found
    ]


async def samples(
    rows: Rows,
    series: SeriesKey,
    since: datetime,
    until: datetime | None,
) -> list[Point]:
    """Raw samples of one series with since <= ts < until, oldest first."""
    require_aware("since", since)
    params = {**_series_params(*series), "since": since}
    if until is not None:
        require_aware("until", until)
        params["until"] = until
    sql = _SAMPLES.format(until="" if until is None else " AND ts < :until")
    return [Point(to_time(ts), value, cap) for ts, value, cap in await rows(sql, params)]


async def samples_of_accounts(
    rows: Rows, accounts: Collection[str], since: datetime, until: datetime
) -> dict[SeriesKey, list[Point]]:
    """Raw samples with since <= ts < until of every series of `accounts`, oldest first,
    by (account, limit, resource): one query per 500 accounts."""
    require_aware("since", since)
    require_aware("until", until)
    found: dict[SeriesKey, list[Point]] = {}
    if not accounts:
        return found
    params = {"since": since, "until": until}
    for account, limit, resource, ts, value, cap in await _of_accounts(
        rows, _SAMPLES_OF_ACCOUNTS, accounts, params
    ):
        found.setdefault((account, limit, resource or None), []).append(
            Point(to_time(ts), value, cap)
        )
    return found


async def oldest_samples(
    rows: Rows, accounts: Collection[str], since: datetime
) -> dict[str, datetime]:
    """Account -> the time of its oldest raw sample at or after `since`; an account without
    one is left out. One query per 500 accounts."""
    require_aware("since", since)
    if not accounts:
        return {}
    found = await _of_accounts(rows, _OLDEST_SAMPLES, accounts, {"since": since})
    return {account: to_time(oldest) for account, oldest in found if oldest is not None}


async def rollups(
    rows: Rows, series: SeriesKey, granularity: Literal["hour", "day"], since: datetime
) -> list[RollupPoint]:
    """Hourly or daily buckets of one series starting at or after `since`, oldest first."""
    require_aware("since", since)
    sql = _ROLLUPS.format(table=_rollup_table(granularity))
    found = await rows(sql, {**_series_params(*series), "since": since})
    return [
        RollupPoint(to_time(start), low, high, last, count)
        for start, low, high, last, count in found
    ]


async def rollups_of_accounts(
    rows: Rows,
    accounts: Collection[str],
    granularity: Literal["hour", "day"],
    since: datetime,
) -> dict[SeriesKey, list[RollupPoint]]:
    """Hourly or daily buckets starting at or after `since` of every series of `accounts`,
    oldest first, by (account, limit, resource)."""
    require_aware("since", since)
    sql = _ROLLUPS_OF_ACCOUNTS.format(table=_rollup_table(granularity))
    found: dict[SeriesKey, list[RollupPoint]] = {}
    if not accounts:
        return found
    for account, limit, resource, start, low, high, last, count in await _of_accounts(
        rows, sql, accounts, {"since": since}
    ):
        found.setdefault((account, limit, resource or None), []).append(
            RollupPoint(to_time(start), low, high, last, count)
        )
    return found


async def daily_maxima(
    rows: Rows, dialect: str, accounts: Collection[str], since: datetime
) -> dict[SeriesKey, list[tuple[datetime, float]]]:
    """Per series of `accounts` and UTC day from `since` on: the largest value the rollups
    hold (the daily bucket, or the hourly buckets of a day not folded into a daily one yet),
    oldest first. Samples not rolled up yet are not included. The hourly part is aggregated
    in the database."""
    require_aware("since", since)
    found: dict[SeriesKey, list[tuple[datetime, float]]] = {}
    if not accounts:
        return found
    marks = await rows(_WATERMARK, {"granularity": DAY})
    folded = marks[0][0] if marks else None
    # Days before the daily watermark are in rollup_daily; a day read from both is harmless:
    # the maximum of both is the same.
    hourly_since = since if folded is None else max(since, floor_day(to_time(folded)))
    day = bucket_sql(dialect, DAY, "r.bucket_start")
    keys: dict[Any, SeriesKey] = {
        series_id: (account, limit, resource or None)
        for series_id, account, limit, resource in await _of_accounts(
            rows, _SERIES_KEYS, accounts, {}
        )
    }
    found_rows = await _of_accounts(rows, _DAILY_MAXIMA, accounts, {"since": since})
    found_rows += await _of_accounts(
        rows, _HOURLY_MAXIMA.format(day=day), accounts, {"since": hourly_since}
    )
    tops: dict[SeriesKey, dict[datetime, float]] = {}
    # A few distinct days over thousands of rows: each parsed once, and the same datetime
    # object each time (it caches its hash; hashing an aware datetime afresh is not cheap).
    moments: dict[Any, datetime] = {}
    for series_id, start, top in found_rows:
        key = keys.get(series_id)
        if key is None:
            continue  # a series created (and rolled up) after its keys were read: next time
        days = tops.setdefault(key, {})
        moment = moments.get(start)
        if moment is None:
            moment = moments[start] = to_time(start)
        known = days.get(moment)
        days[moment] = top if known is None else max(known, top)
    for key, days in tops.items():
        found[key] = [(moment, days[moment]) for moment in sorted(days)]
    return found


async def forecasts_of_accounts(
    rows: Rows, accounts: Collection[str]
) -> dict[SeriesKey, StoredForecast]:
    """The latest stored forecast of every series of `accounts`, by (account, limit,
    resource)."""
    found: dict[SeriesKey, StoredForecast] = {}
    if not accounts:
        return found
    sql = _FORECASTS.format(columns=", ".join(f"f.{name}" for name in FORECAST_FIELDS))
    for account, limit, resource, *values in await _of_accounts(rows, sql, accounts, {}):
        data = dict(zip(FORECAST_FIELDS, values, strict=True))
        data["computed_at"] = to_time(data["computed_at"])
        data["exhausts_at"] = _opt_time(data["exhausts_at"])
        data["active"] = bool(data["active"])
        if data["sustained"] is not None:
            data["sustained"] = bool(data["sustained"])
        data["notes"] = tuple(json.loads(data["notes"]))
        found[(account, limit, resource or None)] = StoredForecast(
            account=account, limit=limit, resource=resource or None, **data
        )
    return found


# --- alerts and silences ----------------------------------------------------------------------


async def load_alerts(rows: Rows, account: str | None, include_resolved: bool) -> list[AlertState]:
    """Stored alert states (of `account` if given), by account and fingerprint; resolved
    ones only with `include_resolved`."""
    conditions = []
    params = {}
    if account is not None:
        conditions.append("account = :account")
        params["account"] = account
    if not include_resolved:
        conditions.append("status != 'resolved'")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    columns = ", ".join(f'"{name}"' for name in ALERT_FIELDS)
    states = []
    for row in await rows(_ALERTS.format(columns=columns, where=where), params):
        data = dict(zip(ALERT_FIELDS, row, strict=True))
        for name in _ALERT_TIMES:
            data[name] = _opt_time(data[name])
        states.append(AlertState(**data))
    return states


async def list_silences(rows: Rows, now: datetime, include_expired: bool) -> list[Silence]:
    """Silences not yet ended at `now` (active or future), by id; or all, if include_expired."""
    require_aware("now", now)
    if include_expired:
        found = await rows(_SILENCES.format(where=""), {})
    else:
        found = await rows(_SILENCES.format(where=" WHERE ends_at > :now"), {"now": now})
    return [
        Silence(int(i), json.loads(m), to_time(starts), to_time(ends), reason, by, to_time(created))
        for i, m, starts, ends, reason, by, created in found
    ]
