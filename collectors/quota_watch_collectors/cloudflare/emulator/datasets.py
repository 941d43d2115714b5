"""The GraphQL Analytics datasets the emulator serves: rows from usage profiles, grouped."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from quota_watch_collectors.cloudflare.emulator.graphql import Field, resolve
from quota_watch_collectors.cloudflare.emulator.model import CloudflareAccount, midnight

__all__ = ["DO_BILLED_MEMORY_GB", "QueryError", "execute"]

Row = dict[str, dict[str, Any]]

DO_BILLED_MEMORY_GB = 0.128
"""GB per active Durable Object second when reading activeTime: 128 MB / 1 GB, as Cloudflare's
pricing examples compute it."""

_KV_ACTIONS = {"kv_reads": "read", "kv_writes": "write", "kv_deletes": "delete", "kv_lists": "list"}
# One representative operation per R2 class: PutObject is Class A, GetObject Class B.
_R2_ACTIONS = {"r2_class_a_operations": "PutObject", "r2_class_b_operations": "GetObject"}


class QueryError(Exception):
    """A query the API would answer with an error: its message and the path it names."""

    def __init__(self, message: str, path: Sequence[str] | None) -> None:
        super().__init__(message)
        self.message = message
        self.path = list(path) if path is not None else None


@dataclass(frozen=True)
class _Window:
    start: datetime
    end: datetime  # exclusive, already clipped to now

    def days(self) -> list[date]:
        if self.end <= self.start:
            return []
        first, last = self.start.date(), (self.end - timedelta(microseconds=1)).date()
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _day_start(value: Any, what: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(str(value)), time(), tzinfo=UTC)
    except ValueError:
        raise QueryError(f"invalid Date {value!r} in filter {what}", None) from None


def _moment(value: Any, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(f"invalid Time {value!r} in filter {what}", None) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _window(flt: Mapping[str, Any], now: datetime) -> _Window:
    """The [start, end) a filter's datetime_* / date_* bounds select, clipped to `now`."""
    start = datetime.min.replace(tzinfo=UTC)
    end = now
    for key, value in flt.items():
        if key in ("datetime_geq", "datetime_gt"):
            start = max(start, _moment(value, key))
        elif key in ("datetime_lt", "datetime_leq"):
            end = min(end, _moment(value, key))
        elif key == "date_geq":
            start = max(start, _day_start(value, key))
        elif key == "date_gt":
            start = max(start, _day_start(value, key) + timedelta(days=1))
        elif key == "date_leq":
            end = min(end, _day_start(value, key) + timedelta(days=1))
        elif key == "date_lt":
            end = min(end, _day_start(value, key))
    if start == datetime.min.replace(tzinfo=UTC):
        start = midnight(now)  # no lower bound: the API would refuse; read as "today"
    return _Window(start, end)


# A dataset's rows before grouping: each block ("sum", "max", ...) maps fields to values.
_Source = Callable[[CloudflareAccount, _Window, datetime], list[Row]]


def _sum_row(dimensions: Mapping[str, Any] | None = None, **sums: float) -> Row:
    return {"sum": dict(sums), "dimensions": dict(dimensions or {})}


def _workers(account: CloudflareAccount, window: _Window, epoch: datetime) -> list[Row]:
    split = account.workers_split(window.start, window.end, epoch)
    return [
        {
            "sum": {"requests": count},
            "quantiles": {"cpuTimeP99": account.cpu_time_p99_us},
            "dimensions": {"scriptName": script},
        }
        for script, count in split.items()
        if script and count > 0
    ]


def _pages_functions(account: CloudflareAccount, window: _Window, epoch: datetime) -> list[Row]:
    count = account.workers_split(window.start, window.end, epoch)[""]
    return [_sum_row(requests=count)] if count > 0 else []


def _kv(account: CloudflareAccount, window: _Window, epoch: datetime) -> list[Row]:
    return [
        _sum_row({"actionType": action}, requests=value)
        for limit, action in _KV_ACTIONS.items()
        if (value := account.counter(limit, window.start, window.end, epoch)) > 0
    ]


def _d1(account: CloudflareAccount, window: _Window, epoch: datetime) -> list[Row]:
    read = account.counter("d1_rows_read", window.start, window.end, epoch)
    written = account.counter("d1_rows_written", window.start, window.end, epoch)
    return [_sum_row(rowsRead=read, rowsWritten=written)] if read or written else []


def _do_requests(account: CloudflareAccount, window: _Window, epoch: datetime) -> list[Row]:
    value = account.counter("do_requests", window.start, window.end, epoch)
    return [_sum_row(requests=value)] if value else []


def _do_periodic(account: CloudflareAccount, window: _Window, epoch: datetime) -> list[Row]:
    duration = account.counter("do_duration", window.start, window.end, epoch)
    read = account.counter("do_rows_read", window.start, window.end, epoch)
    written = account.counter("do_rows_written", window.start, window.end, epoch)
    if not (duration or read or written):
        return []
    active_us = float(math.floor(duration / DO_BILLED_MEMORY_GB * 1e6))
    return [_sum_row(duration=duration, activeTime=active_us, rowsRead=read, rowsWritten=written)]


def _queues(account: CloudflareAccount, window: _Window, epoch: datetime) -> list[Row]:
    value = account.counter("queues_operations", window.start, window.end, epoch)
    return [_sum_row(billableOperations=value)] if value else []


def _r2_operations(account: CloudflareAccount, window: _Window, epoch: datetime) -> list[Row]:
    return [
        _sum_row({"actionType": action}, requests=value)
        for limit, action in _R2_ACTIONS.items()
        if (value := account.counter(limit, window.start, window.end, epoch)) > 0
    ]


def _r2_storage(account: CloudflareAccount, window: _Window, epoch: datetime) -> list[Row]:
    if window.end <= window.start:
        return []
    return [
        {
            "max": {"payloadSize": size, "metadataSize": 0, "objectCount": 1},
            "dimensions": {"bucketName": bucket},
        }
        for bucket, size in account.storage.get("r2_storage", {}).items()
    ]


def _daily_levels(key: str, id_field: str, size_field: str) -> _Source:
    def source(account: CloudflareAccount, window: _Window, epoch: datetime) -> list[Row]:
        return [
            {"max": {size_field: size}, "dimensions": {id_field: resource, "date": day.isoformat()}}
            for day in window.days()
            for resource, size in account.storage.get(key, {}).items()
        ]

    return source


_Schema = Mapping[str, frozenset[str]]


def _schema(**blocks: str) -> _Schema:
    return {block: frozenset(fields.split()) for block, fields in blocks.items()}


_DATASETS: dict[str, tuple[_Source, _Schema]] = {
    "workersInvocationsAdaptive": (
        _workers,
        _schema(sum="requests", quantiles="cpuTimeP99", dimensions="scriptName"),
    ),
    "pagesFunctionsInvocationsAdaptiveGroups": (_pages_functions, _schema(sum="requests")),
    "kvOperationsAdaptiveGroups": (_kv, _schema(sum="requests", dimensions="actionType")),
    "d1AnalyticsAdaptiveGroups": (_d1, _schema(sum="rowsRead rowsWritten")),
    "durableObjectsInvocationsAdaptiveGroups": (_do_requests, _schema(sum="requests")),
    "durableObjectsPeriodicGroups": (
        _do_periodic,
        _schema(sum="duration activeTime rowsRead rowsWritten"),
    ),
    "queueMessageOperationsAdaptiveGroups": (_queues, _schema(sum="billableOperations")),
    "r2OperationsAdaptiveGroups": (
        _r2_operations,
        _schema(sum="requests", dimensions="actionType"),
    ),
    "r2StorageAdaptiveGroups": (
        _r2_storage,
        _schema(max="payloadSize metadataSize objectCount", dimensions="bucketName"),
    ),
    "kvStorageAdaptiveGroups": (
        _daily_levels("kv_storage", "namespaceId", "byteCount"),
        _schema(max="byteCount", dimensions="namespaceId date"),
    ),
    "d1StorageAdaptiveGroups": (
        _daily_levels("d1_storage", "databaseId", "databaseSizeBytes"),
        _schema(max="databaseSizeBytes", dimensions="databaseId date"),
    ),
    "durableObjectsSqlStorageGroups": (
        _daily_levels("do_storage", "namespaceId", "storedBytes"),
        _schema(max="storedBytes", dimensions="namespaceId date"),
    ),
}
"""The datasets the emulator serves (the ones the collector reads) and the fields of each."""

# Blocks whose values add up when rows are grouped; the others keep the largest value.
_ADDITIVE = frozenset({"sum"})


def _group(
    rows: list[Row], schema: _Schema, node: Field, path: list[str], flt: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Rows filtered on dimension equality, grouped by the selected dimensions, projected."""
    for name, wanted_value in flt.items():
        if name in schema.get("dimensions", ()):
            rows = [r for r in rows if r["dimensions"].get(name) == wanted_value]
    for block in node.selections:
        if block.name not in schema:
            raise QueryError(f'unknown field "{block.name}"', [*path, block.alias])
        for leaf in block.selections:
            if leaf.name not in schema[block.name]:
                raise QueryError(f'unknown field "{leaf.name}"', [*path, block.alias, leaf.alias])
    wanted = [leaf.name for b in node.selections if b.name == "dimensions" for leaf in b.selections]
    groups: dict[tuple[Any, ...], Row] = {}
    for row in rows:
        group_key = tuple(row.get("dimensions", {}).get(name) for name in wanted)
        merged = groups.setdefault(group_key, {})
        for kind, values in row.items():
            target = merged.setdefault(kind, {})
            for name, value in values.items():
                if kind == "dimensions":
                    target[name] = value
                elif kind in _ADDITIVE:
                    target[name] = target.get(name, 0) + value
                else:
                    target[name] = max(target.get(name, value), value)
    return [
        {
            block.alias: {
                leaf.alias: merged.get(block.name, {}).get(leaf.name) for leaf in block.selections
            }
            for block in node.selections
        }
        for merged in groups.values()
    ]


def execute(
    caller: CloudflareAccount,
    root: Sequence[Field],
    variables: Mapping[str, Any],
    now: datetime,
    epoch: datetime,
) -> dict[str, Any]:
    """The `data` answering a parsed query for `caller` at `now` (UTC), or QueryError."""
    data: dict[str, Any] = {}
    for node in root:
        if node.name != "viewer":
            raise QueryError(f'unknown field "{node.name}"', [node.alias])
        viewer: dict[str, Any] = {}
        for child in node.selections:
            if child.name != "accounts":
                raise QueryError(f'unknown field "{child.name}"', [node.alias, child.alias])
            flt = resolve(child.arguments.get("filter") or {}, variables)
            tag = flt.get("accountTag") if isinstance(flt, dict) else None
            if not isinstance(tag, str) or tag.lower() != caller.account_id:
                raise QueryError("not authorized for that account", [node.alias, child.alias, "0"])
            path = [node.alias, child.alias, "0"]
            viewer[child.alias] = [_account_node(caller, child, path, variables, now, epoch)]
        data[node.alias] = viewer
    return data


def _account_node(
    account: CloudflareAccount,
    node: Field,
    path: list[str],
    variables: Mapping[str, Any],
    now: datetime,
    epoch: datetime,
) -> dict[str, Any]:
    answer: dict[str, Any] = {}
    for part in node.selections:
        dataset = _DATASETS.get(part.name)
        where = [*path, part.alias]
        if dataset is None:
            raise QueryError(f'unknown field "{part.name}"', where)
        source, schema = dataset
        arguments = resolve(dict(part.arguments), variables)
        flt = arguments.get("filter") or {}
        if not isinstance(flt, dict):
            raise QueryError("filter must be an object", where)
        limit = arguments.get("limit", 10_000)
        if not isinstance(limit, int) or limit < 1:
            raise QueryError("limit must be a positive integer", where)
        rows = source(account, _window(flt, now), epoch)
        answer[part.alias] = _group(rows, schema, part, where, flt)[:limit]
    return answer
