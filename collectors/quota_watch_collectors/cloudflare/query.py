"""The one GraphQL Analytics query a poll sends: which datasets, windows and fields it asks for.

Every dataset gets an alias; the time bounds are inlined as string literals (as the Durable
Objects metrics docs do), so no variable needs Cloudflare's `Time`/`Date` scalar types, and
only `$accountTag` (declared `string!`, as the R2 and D1 docs do) is a variable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pydantic import BaseModel

from quota_watch_collectors.cloudflare.models import (
    D1Group,
    D1StorageGroup,
    DoPeriodicGroup,
    DoSqlStorageGroup,
    KvOperationsGroup,
    KvStorageGroup,
    QueuesGroup,
    R2OperationsGroup,
    R2StorageGroup,
    RequestsGroup,
    WorkersGroup,
)
from quota_watch_collectors.cloudflare.options import CloudflareOptions

__all__ = [
    "GROUP_LIMIT",
    "OPERATION",
    "Part",
    "UsageQuery",
    "build_usage_query",
]

OPERATION = "QuotaWatchUsage"
GROUP_LIMIT = 1000
"""Rows asked of each dataset; a dataset answering this many may be truncated (an error)."""

_PAGES_FUNCTIONS_ADVICE = "set include_pages_functions = false"
_DO_SQL_ADVICE = "set include_do_sql = false"


@dataclass(frozen=True, slots=True)
class Part:
    """One aliased dataset node of the query and the model of its rows."""

    alias: str
    dataset: str
    filter: str
    selection: str
    model: type[BaseModel]

    def render(self) -> str:
        """The node as GraphQL text."""
        return (
            f"{self.alias}: {self.dataset}(limit: {GROUP_LIMIT}, filter: {{{self.filter}}}) "
            f"{{ {self.selection} }}"
        )


@dataclass(frozen=True, slots=True)
class UsageQuery:
    """The query text, its variables, its parts and the advice shown when a field is rejected."""

    document: str
    variables: dict[str, str]
    parts: tuple[Part, ...]
    hints: dict[str, str]
    r2_aliases: tuple[str, ...]

    def part(self, alias: str) -> Part | None:
        """The part with this alias, if the query has it."""
        return next((p for p in self.parts if p.alias == alias), None)


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _between(start: datetime, end: datetime) -> str:
    return f'datetime_geq: "{_time(start)}", datetime_lt: "{_time(end)}"'


def _days(first: date, last: date) -> str:
    return f'date_geq: "{first.isoformat()}", date_leq: "{last.isoformat()}"'


def r2_windows(start: datetime, end: datetime, span: timedelta) -> list[tuple[datetime, datetime]]:
    """[start, end) cut into consecutive windows no longer than `span` (at least one)."""
    windows: list[tuple[datetime, datetime]] = []
    cursor = start
    while True:
        stop = min(cursor + span, end)
        windows.append((cursor, stop))
        if stop >= end:
            return windows
        cursor = stop


def do_periodic_fields(options: CloudflareOptions) -> list[str]:
    """The `sum` fields of durableObjectsPeriodicGroups the options ask for."""
    fields: list[str] = []
    if options.do_duration != "off":
        fields.append(options.do_duration)
    if options.include_do_sql:
        fields += ["rowsRead", "rowsWritten"]
    return fields


def _workers_parts(options: CloudflareOptions, today: str, hints: dict[str, str]) -> list[Part]:
    """Workers requests today, and Pages Functions requests when the options count them."""
    parts = [
        Part(
            "workers",
            "workersInvocationsAdaptive",
            today,
            "sum { requests } quantiles { cpuTimeP99 } dimensions { scriptName }",
            WorkersGroup,
        ),
    ]
    if options.include_pages_functions:
        parts.append(
            Part(
                "pagesFunctions",
                "pagesFunctionsInvocationsAdaptiveGroups",
                today,
                "sum { requests }",
                RequestsGroup,
            )
        )
        hints["pagesFunctions"] = _PAGES_FUNCTIONS_ADVICE
    return parts


def _day_parts(day: date) -> list[Part]:
    """KV operations, D1 rows and Durable Objects requests of the day."""
    return [
        Part(
            "kv",
            "kvOperationsAdaptiveGroups",
            _days(day, day),
            "sum { requests } dimensions { actionType }",
            KvOperationsGroup,
        ),
        Part(
            "d1",
            "d1AnalyticsAdaptiveGroups",
            _days(day, day),
            "sum { rowsRead rowsWritten }",
            D1Group,
        ),
        Part(
            "doRequests",
            "durableObjectsInvocationsAdaptiveGroups",
            _days(day, day),
            "sum { requests }",
            RequestsGroup,
        ),
    ]


def _do_periodic_parts(options: CloudflareOptions, day: date, hints: dict[str, str]) -> list[Part]:
    """The day's Durable Objects duration and SQL rows, if the options ask for any."""
    periodic = do_periodic_fields(options)
    if not periodic:
        return []
    advice = []
    if options.do_duration != "off":
        other = "activeTime" if options.do_duration == "duration" else "duration"
        duration_advice = f'set do_duration = "{other}" or "off"'
        hints[options.do_duration] = duration_advice
        advice.append(duration_advice)
    if options.include_do_sql:
        advice.append(_DO_SQL_ADVICE)
    hints["doPeriodic"] = "; ".join(advice)
    hints["DurableObjectsPeriodic"] = "; ".join(advice)
    return [
        Part(
            "doPeriodic",
            "durableObjectsPeriodicGroups",
            _days(day, day),
            f"sum {{ {' '.join(periodic)} }}",
            DoPeriodicGroup,
        )
    ]


def _r2_operation_parts(
    aliases: tuple[str, ...], windows: list[tuple[datetime, datetime]]
) -> list[Part]:
    """One R2 operations part per window of the month."""
    return [
        Part(
            alias,
            "r2OperationsAdaptiveGroups",
            _between(start, end),
            "sum { requests } dimensions { actionType }",
            R2OperationsGroup,
        )
        for alias, (start, end) in zip(aliases, windows, strict=True)
    ]


def _storage_parts(options: CloudflareOptions, now: datetime, hints: dict[str, str]) -> list[Part]:
    """The latest storage levels: R2 over the last day, KV, D1 and DO SQL yesterday and today."""
    storage_days = _days((now - timedelta(days=1)).date(), now.date())
    parts = [
        Part(
            "r2Storage",
            "r2StorageAdaptiveGroups",
            _between(now - timedelta(days=1), now),
            "max { payloadSize metadataSize } dimensions { bucketName }",
            R2StorageGroup,
        ),
        Part(
            "kvStorage",
            "kvStorageAdaptiveGroups",
            storage_days,
            "max { byteCount } dimensions { namespaceId date }",
            KvStorageGroup,
        ),
        Part(
            "d1Storage",
            "d1StorageAdaptiveGroups",
            storage_days,
            "max { databaseSizeBytes } dimensions { databaseId date }",
            D1StorageGroup,
        ),
    ]
    if options.include_do_sql:
        parts.append(
            Part(
                "doSqlStorage",
                "durableObjectsSqlStorageGroups",
                storage_days,
                "max { storedBytes } dimensions { namespaceId date }",
                DoSqlStorageGroup,
            )
        )
        hints["doSqlStorage"] = _DO_SQL_ADVICE
        hints["durableObjectsSqlStorage"] = _DO_SQL_ADVICE
    return parts


def _document(parts: list[Part]) -> str:
    """The query text selecting every part under the account."""
    body = "\n      ".join(part.render() for part in parts)
    return (
        f"query {OPERATION}($accountTag: string!) {{\n"
        "  viewer {\n"
        "    accounts(filter: {accountTag: $accountTag}) {\n"
        f"      {body}\n"
        "    }\n"
        "  }\n"
        "}"
    )


def build_usage_query(
    options: CloudflareOptions,
    *,
    now: datetime,
    day_start: datetime,
    month_start: datetime,
) -> UsageQuery:
    """The poll's query: today's daily-capped datasets, this month's R2 operations (cut into
    windows of `r2_query_span_days`), and the latest storage levels (yesterday and today)."""
    day = day_start.date()
    today = _between(day_start, now)
    hints: dict[str, str] = {}
    parts = _workers_parts(options, today, hints)
    parts += _day_parts(day)
    parts += _do_periodic_parts(options, day, hints)
    parts.append(
        Part(
            "queues",
            "queueMessageOperationsAdaptiveGroups",
            today,
            "sum { billableOperations }",
            QueuesGroup,
        )
    )
    windows = r2_windows(month_start, now, timedelta(days=options.r2_query_span_days))
    r2_aliases = tuple(f"r2Operations{index}" for index in range(len(windows)))
    parts += _r2_operation_parts(r2_aliases, windows)
    parts += _storage_parts(options, now, hints)
    return UsageQuery(
        document=_document(parts),
        variables={"accountTag": options.account_id},
        parts=tuple(parts),
        hints=hints,
        r2_aliases=r2_aliases,
    )
