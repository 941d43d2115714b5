"""Cloudflare API emulator: a loopback HTTP server answering what the `cloudflare` collector asks.

For end-to-end tests and the shard-pool demo. A Starlette app served by uvicorn in a background
thread (see `threaded.ThreadedServer`), under `/client/v4` like the real API, so a collector
with `api_base = emulator.api_base` polls it unchanged:

- `GET /user/tokens/verify`, `GET /accounts/{id}/tokens/verify`: the token's status;
- `POST /graphql`: the GraphQL Analytics API. The query text is parsed (a small GraphQL
  subset: aliases, arguments, variables, nested selections) and every dataset the collector
  reads is answered from the account's usage profiles, grouped by the dimensions asked for,
  filtered by the `datetime_*`/`date_*` bounds (clipped to the clock's now), and projected onto
  the selected fields. Unknown datasets or fields get the API's `unknown field` error;
- `GET /accounts/{id}/pages/projects` and `.../pages/projects/{name}/deployments`: paginated
  REST lists of the account's Pages projects and their deployments (newest first).

Usage counters follow `Rate`s: `per_hour` at the emulator's `epoch`, multiplied by `growth`
per day (continuously), so a daily counter at time t is the integral of the rate from 00:00 UTC
to t: "requests so far today". Payload shapes, status codes, error bodies and rate-limit headers
follow the collector's recorded cases (collectors/quota_watch_collectors/cloudflare/tests/cases):
a bad token gets HTTP 401 (GraphQL `Unauthorized`, REST code 1000); a token of another account
gets the GraphQL `not authorized for that account` error under HTTP 200, or a REST 403 with
code 10000; the budgets (1200 REST and 300 GraphQL requests per token per 5 minutes) answer
429 with `Retry-After` and `Ratelimit`/`Ratelimit-Policy` headers once spent.

Usage::

    from quota_watch_collectors.cloudflare.emulator import (
        CloudflareAccount,
        CloudflareEmulator,
        Rate,
    )
    from quota_watch.testing.emulator import ManualClock

    clock = ManualClock(datetime(2026, 11, 22, 0, 0, tzinfo=UTC))
    account = CloudflareAccount("cf-a", "0123456789abcdef0123456789abcdef", "token-a",
                                workers=Rate(per_hour=3600))
    with CloudflareEmulator([account], clock=clock) as emulator:
        options = emulator.collector_options("cf-a")  # cloudflare collector options
        clock.advance(hours=10)                        # workers_requests is now 36,000
"""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import json
import math
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from quota_watch.testing.threaded import ServedInThread, ThreadedServer

__all__ = [
    "API_PREFIX",
    "COUNTERS",
    "DO_BILLED_MEMORY_GB",
    "GRAPHQL_BUDGET",
    "REST_BUDGET",
    "STORAGE",
    "BudgetPolicy",
    "CloudflareAccount",
    "CloudflareEmulator",
    "GraphQLSyntaxError",
    "Rate",
    "parse_graphql",
]

Clock = Callable[[], datetime]
Row = dict[str, dict[str, Any]]

API_PREFIX = "/client/v4"
DO_BILLED_MEMORY_GB = 0.125
"""GB per active Durable Object the collector assumes when it reads activeTime (128 MB)."""

COUNTERS = frozenset(
    {
        "kv_reads",
        "kv_writes",
        "kv_deletes",
        "kv_lists",
        "d1_rows_read",
        "d1_rows_written",
        "do_requests",
        "do_duration",
        "do_rows_read",
        "do_rows_written",
        "queues_operations",
        "r2_class_a_operations",
        "r2_class_b_operations",
    }
)
"""Counters a `CloudflareAccount.usage` may drive (besides `workers`), by collector limit name."""

STORAGE = frozenset({"r2_storage", "kv_storage", "d1_storage", "do_storage"})
"""Storage levels a `CloudflareAccount.storage` may hold: resource name -> bytes."""

_KV_ACTIONS = {"kv_reads": "read", "kv_writes": "write", "kv_deletes": "delete", "kv_lists": "list"}
# One representative operation per R2 class: PutObject is Class A, GetObject Class B.
_R2_ACTIONS = {"r2_class_a_operations": "PutObject", "r2_class_b_operations": "GetObject"}
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_PER_PAGE_PROJECTS = 10
_PER_PAGE_DEPLOYMENTS = 25


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _midnight(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- usage profiles ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """A usage rate: `per_hour` at the emulator's epoch, times `growth` per day (continuously)."""

    per_hour: float
    growth: float = 1.0

    def __post_init__(self) -> None:
        if not math.isfinite(self.per_hour) or self.per_hour < 0:
            raise ValueError("per_hour must be a finite number >= 0")
        if not math.isfinite(self.growth) or self.growth <= 0:
            raise ValueError("growth must be a finite number > 0")

    @classmethod
    def daily_total(cls, total: float, growth: float = 1.0) -> Rate:
        """The rate whose first day after the epoch adds up to `total`."""
        if growth == 1.0:
            return cls(total / 24, growth)
        return cls(total * math.log(growth) / (24 * (growth - 1)), growth)

    def amount(self, start: datetime, end: datetime, epoch: datetime) -> float:
        """Usage accrued in [start, end) (0 when end <= start)."""
        if end <= start:
            return 0.0
        hours = (end - start).total_seconds() / 3600
        if self.growth == 1.0:
            return self.per_hour * hours
        log_g = math.log(self.growth)
        a = (start - epoch).total_seconds() / 86400
        b = (end - epoch).total_seconds() / 86400
        return self.per_hour * 24 / log_g * (math.exp(b * log_g) - math.exp(a * log_g))


@dataclass(frozen=True)
class CloudflareAccount:
    """One emulated Cloudflare account: its ID and token, and how its usage grows.

    `workers` is the account's Workers requests (Pages Functions included): `scripts` shares
    it between Worker scripts and `pages_functions_share` goes to Pages Functions. `usage`
    drives the other counters (see COUNTERS); `storage` holds levels per resource (see
    STORAGE); `pages` maps a Pages project name to its deployments' creation times.
    """

    name: str
    account_id: str
    token: str = field(repr=False)
    workers: Rate = field(default_factory=lambda: Rate(0.0))
    scripts: Mapping[str, float] = field(default_factory=lambda: {"api": 1.0})
    pages_functions_share: float = 0.0
    cpu_time_p99_us: float = 4_000.0
    usage: Mapping[str, Rate] = field(default_factory=dict)
    storage: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    pages: Mapping[str, Sequence[datetime]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _HEX32.match(self.account_id):
            raise ValueError(f"{self.name}: account_id must be 32 lowercase hex digits")
        if not self.token or any(ch.isspace() for ch in self.token):
            raise ValueError(f"{self.name}: token must be non-empty, without whitespace")
        if not self.scripts or any(w < 0 or not math.isfinite(w) for w in self.scripts.values()):
            raise ValueError(f"{self.name}: scripts needs at least one share, all >= 0")
        if sum(self.scripts.values()) <= 0:
            raise ValueError(f"{self.name}: script shares must not all be 0")
        if not 0.0 <= self.pages_functions_share <= 1.0:
            raise ValueError(f"{self.name}: pages_functions_share must be between 0 and 1")
        if self.cpu_time_p99_us < 0:
            raise ValueError(f"{self.name}: cpu_time_p99_us must be >= 0")
        unknown = sorted(set(self.usage) - COUNTERS) + sorted(set(self.storage) - STORAGE)
        if unknown:
            raise ValueError(f"{self.name}: unknown usage or storage key(s): {', '.join(unknown)}")
        for times in self.pages.values():
            if any(t.tzinfo is None for t in times):
                raise ValueError(f"{self.name}: Pages deployment times must be timezone-aware")

    def workers_split(self, start: datetime, end: datetime, epoch: datetime) -> dict[str, int]:
        """Workers requests in [start, end) per script, Pages Functions under the key "".

        Whole requests: the floor of the profile's amount, shared out by largest remainder so
        the parts add up to it exactly."""
        total = math.floor(self.workers.amount(start, end, epoch) + 1e-6)
        weights = {
            script: share * (1.0 - self.pages_functions_share)
            for script, share in self.scripts.items()
        }
        scale = sum(self.scripts.values())
        weights = {script: w / scale for script, w in weights.items()}
        weights[""] = self.pages_functions_share
        exact = {key: total * w for key, w in weights.items()}
        parts = {key: math.floor(v) for key, v in exact.items()}
        left = total - sum(parts.values())
        for key in sorted(exact, key=lambda k: (parts[k] - exact[k], k))[:left]:
            parts[key] += 1
        return parts

    def counter(self, name: str, start: datetime, end: datetime, epoch: datetime) -> float:
        """Counter `name` accrued in [start, end): whole units, except do_duration (GB-s)."""
        rate = self.usage.get(name)
        if rate is None:
            return 0.0
        value = rate.amount(start, end, epoch)
        return value if name == "do_duration" else float(math.floor(value + 1e-6))


# --- a GraphQL subset -------------------------------------------------------------------------


class GraphQLSyntaxError(ValueError):
    """The query text is outside the GraphQL subset the emulator reads."""


@dataclass(frozen=True)
class Variable:
    """A `$name` reference in an argument."""

    name: str


@dataclass(frozen=True)
class Field:
    """One field of a selection set: alias, name, arguments and sub-selection."""

    alias: str
    name: str
    arguments: Mapping[str, Any]
    selections: tuple[Field, ...]


_TOKEN = re.compile(
    r"""(?P<skip>[\s,]+|\#[^\n]*)
      | (?P<spread>\.\.\.)
      | (?P<punct>[{}()\[\]:!$=@|])
      | (?P<name>[_A-Za-z][_0-9A-Za-z]*)
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
      | (?P<string>"(?:[^"\\\n]|\\.)*")""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise GraphQLSyntaxError(f"Syntax Error: unexpected character {text[position]!r}")
        kind = match.lastgroup or ""
        if kind != "skip":
            found.append((kind, match.group()))
        position = match.end()
    return found


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.index = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.index] if self.index < len(self.tokens) else ("eof", "")

    def take(self, value: str | None = None, kind: str | None = None) -> str:
        token_kind, token = self.peek()
        if (value is not None and token != value) or (kind is not None and token_kind != kind):
            wanted = value or kind
            raise GraphQLSyntaxError(f"Syntax Error: expected {wanted}, found {token or 'EOF'!r}")
        self.index += 1
        return token

    def accept(self, value: str) -> bool:
        if self.peek()[1] == value and self.peek()[0] != "string":
            self.index += 1
            return True
        return False

    def operations(self) -> dict[str | None, tuple[Field, ...]]:
        found: dict[str | None, tuple[Field, ...]] = {}
        while self.peek()[0] != "eof":
            name: str | None = None
            if self.peek()[1] == "{":
                found[None] = self.selection_set()
                continue
            keyword = self.take(kind="name")
            if keyword != "query":
                raise GraphQLSyntaxError(f"Syntax Error: {keyword!r} operations are not served")
            if self.peek()[0] == "name":
                name = self.take()
            if self.accept("("):
                depth = 1
                while depth:  # variable definitions: their types are not checked
                    token = self.take()
                    depth += {"(": 1, ")": -1}.get(token, 0)
            found[name] = self.selection_set()
        if not found:
            raise GraphQLSyntaxError("Syntax Error: no operation in the document")
        return found

    def selection_set(self) -> tuple[Field, ...]:
        self.take("{")
        fields: list[Field] = []
        while not self.accept("}"):
            if self.peek()[0] == "spread":
                raise GraphQLSyntaxError("Syntax Error: fragments are not served")
            fields.append(self.field())
        return tuple(fields)

    def field(self) -> Field:
        alias = name = self.take(kind="name")
        if self.accept(":"):
            name = self.take(kind="name")
        arguments: dict[str, Any] = {}
        if self.accept("("):
            while not self.accept(")"):
                key = self.take(kind="name")
                self.take(":")
                arguments[key] = self.value()
        if self.peek()[1] == "@":
            raise GraphQLSyntaxError("Syntax Error: directives are not served")
        selections = self.selection_set() if self.peek()[1] == "{" else ()
        return Field(alias, name, arguments, selections)

    def value(self) -> Any:
        kind, token = self.peek()
        if kind == "string":
            self.index += 1
            return json.loads(token)
        if kind == "number":
            self.index += 1
            return float(token) if any(c in token for c in ".eE") else int(token)
        if self.accept("$"):
            return Variable(self.take(kind="name"))
        if self.accept("{"):
            members: dict[str, Any] = {}
            while not self.accept("}"):
                key = self.take(kind="name")
                self.take(":")
                members[key] = self.value()
            return members
        if self.accept("["):
            items: list[Any] = []
            while not self.accept("]"):
                items.append(self.value())
            return items
        if kind == "name":
            self.index += 1
            return {"true": True, "false": False, "null": None}.get(token, token)
        raise GraphQLSyntaxError(f"Syntax Error: unexpected {token or 'EOF'!r}")


def parse_graphql(text: str, operation: str | None = None) -> tuple[Field, ...]:
    """The root selection of `operation` (or of the document's only operation)."""
    operations = _Parser(text).operations()
    if operation is not None and operation in operations:
        return operations[operation]
    if len(operations) == 1:
        return next(iter(operations.values()))
    raise GraphQLSyntaxError(f"unknown operation named {operation!r}")


def _resolve(value: Any, variables: Mapping[str, Any]) -> Any:
    if isinstance(value, Variable):
        return variables.get(value.name)
    if isinstance(value, dict):
        return {k: _resolve(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, variables) for v in value]
    return value


# --- datasets ---------------------------------------------------------------------------------


class _QueryError(Exception):
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
        raise _QueryError(f"invalid Date {value!r} in filter {what}", None) from None


def _moment(value: Any, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise _QueryError(f"invalid Time {value!r} in filter {what}", None) from None
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
        start = _midnight(now)  # no lower bound: the API would refuse; read as "today"
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
            raise _QueryError(f'unknown field "{block.name}"', [*path, block.alias])
        for leaf in block.selections:
            if leaf.name not in schema[block.name]:
                raise _QueryError(f'unknown field "{leaf.name}"', [*path, block.alias, leaf.alias])
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


# --- the server -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetPolicy:
    """A request budget per token: `quota` requests per `window_seconds` window."""

    quota: int
    window_seconds: int


REST_BUDGET = BudgetPolicy(1200, 300)
"""Cloudflare's global API limit: 1200 requests per 5 minutes per user."""
GRAPHQL_BUDGET = BudgetPolicy(300, 300)
"""The GraphQL Analytics API's limit: 300 queries per 5 minutes per user."""


class CloudflareEmulator(ServedInThread):
    """A loopback HTTP server emulating Cloudflare's v4 REST and GraphQL APIs for accounts."""

    def __init__(
        self,
        accounts: Iterable[CloudflareAccount],
        *,
        clock: Clock | None = None,
        epoch: datetime | None = None,
        rest_budget: BudgetPolicy = REST_BUDGET,
        graphql_budget: BudgetPolicy = GRAPHQL_BUDGET,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.accounts: dict[str, CloudflareAccount] = {}
        for account in accounts:
            if account.name in self.accounts:
                raise ValueError(f"account {account.name!r} is listed twice")
            self.accounts[account.name] = account
        by_id = {a.account_id for a in self.accounts.values()}
        tokens = {a.token for a in self.accounts.values()}
        if len(by_id) != len(self.accounts) or len(tokens) != len(self.accounts):
            raise ValueError("account IDs and tokens must be unique")
        self.clock: Clock = clock or _utc_now
        started = self.clock()
        if started.tzinfo is None:
            raise ValueError("the emulator's clock must return timezone-aware datetimes")
        if epoch is not None and epoch.tzinfo is None:
            raise ValueError("epoch must be timezone-aware")
        self.epoch = epoch.astimezone(UTC) if epoch is not None else _midnight(started)
        self.host = host
        self._budgets = {"rest": rest_budget, "graphql": graphql_budget}
        self._spent: Counter[tuple[str, str, int]] = Counter()
        self._stats: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        prefix = API_PREFIX
        self.app = Starlette(
            routes=[
                Route(f"{prefix}/user/tokens/verify", self._verify_user, methods=["GET"]),
                Route(
                    f"{prefix}/accounts/{{account_id}}/tokens/verify",
                    self._verify_account,
                    methods=["GET"],
                ),
                Route(f"{prefix}/graphql", self._graphql, methods=["POST"]),
                Route(
                    f"{prefix}/accounts/{{account_id}}/pages/projects",
                    self._projects,
                    methods=["GET"],
                ),
                Route(
                    f"{prefix}/accounts/{{account_id}}/pages/projects/{{project}}/deployments",
                    self._deployments,
                    methods=["GET"],
                ),
                Route("/{path:path}", self._not_found, methods=["GET", "POST", "PUT", "DELETE"]),
            ]
        )
        self._http = ThreadedServer(self.app, host, port, name="quota-watch-cloudflare-emulator")

    # --- addresses (start/stop/port: ServedInThread) -----------------------------------------

    @property
    def api_base(self) -> str:
        """The `api_base` option pointing the cloudflare collector at this emulator."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{API_PREFIX}"

    def collector_options(self, name: str) -> dict[str, Any]:
        """Options of the cloudflare collector polling account `name` here (token in clear)."""
        account = self.account(name)
        return {
            "account_id": account.account_id,
            "token": account.token,
            "api_base": self.api_base,
        }

    # --- state ----------------------------------------------------------------------------------

    def account(self, name: str) -> CloudflareAccount:
        """The emulated account called `name`."""
        try:
            return self.accounts[name]
        except KeyError:
            raise KeyError(f"unknown emulated account {name!r}") from None

    def workers_requests(self, name: str, at: datetime | None = None) -> int:
        """Workers requests (Pages Functions included) of account `name` from 00:00 UTC to
        `at` (default: the clock's now): what the collector should read then."""
        moment = (at or self.clock()).astimezone(UTC)
        split = self.account(name).workers_split(_midnight(moment), moment, self.epoch)
        return sum(split.values())

    @property
    def stats(self) -> dict[tuple[str, str], int]:
        """Requests answered so far, per (account name or "?", endpoint:outcome)."""
        with self._lock:
            return dict(self._stats)

    def _count(self, account: CloudflareAccount | None, what: str) -> None:
        with self._lock:
            self._stats[(account.name if account else "?", what)] += 1

    def _by_token(self, request: Request) -> CloudflareAccount | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        offered = token.strip().encode()
        for account in self.accounts.values():
            if hmac.compare_digest(offered, account.token.encode()):
                return account
        return None

    def _spend(self, account: CloudflareAccount, kind: str) -> tuple[bool, dict[str, str]]:
        """Take one request from the token's budget: (allowed, rate-limit headers)."""
        policy = self._budgets[kind]
        now = self.clock().timestamp()
        window = int(now // policy.window_seconds)
        reset = max(1, math.ceil((window + 1) * policy.window_seconds - now))
        with self._lock:
            key = (account.token, kind, window)
            allowed = self._spent[key] < policy.quota
            if allowed:
                self._spent[key] += 1
            remaining = policy.quota - self._spent[key]
            for old in [k for k in self._spent if k[2] < window]:
                del self._spent[old]
        headers = {
            "Ratelimit": f'"default";r={remaining};t={reset}',
            "Ratelimit-Policy": f'"default";q={policy.quota};w={policy.window_seconds}',
        }
        if not allowed:
            headers["Retry-After"] = str(reset)
        return allowed, headers

    def _date(self) -> dict[str, str]:
        return {"Date": email.utils.format_datetime(self.clock().astimezone(UTC), usegmt=True)}

    # --- REST -----------------------------------------------------------------------------------

    def _rest(
        self,
        result: Any,
        *,
        status: int = 200,
        errors: Sequence[Mapping[str, Any]] = (),
        messages: Sequence[Mapping[str, Any]] = (),
        result_info: Mapping[str, int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> JSONResponse:
        body: dict[str, Any] = {
            "success": not errors,
            "errors": list(errors),
            "messages": list(messages),
            "result": result,
        }
        if result_info is not None:
            body["result_info"] = dict(result_info)
        return JSONResponse(body, status_code=status, headers={**self._date(), **(headers or {})})

    def _rest_auth(
        self, request: Request, what: str, account_id: str | None
    ) -> CloudflareAccount | JSONResponse:
        """The calling account, or the error answer: 401 for a bad token, 403 for an account the
        token may not read, 429 once the budget is spent."""
        account = self._by_token(request)
        if account is None:
            self._count(None, f"{what}:auth_failed")
            error = {"code": 1000, "message": "Invalid API Token"}
            return self._rest(None, status=401, errors=[error])
        if account_id is not None and account_id.lower() != account.account_id:
            self._count(account, f"{what}:forbidden")
            error = {"code": 10000, "message": "Authentication error"}
            return self._rest(None, status=403, errors=[error])
        allowed, headers = self._spend(account, "rest")
        if not allowed:
            self._count(account, f"{what}:rate_limited")
            error = {"code": 10429, "message": "Rate limited. Please wait and consider throttling."}
            return self._rest(None, status=429, errors=[error], headers=headers)
        request.state.ratelimit = headers
        return account

    def _token_status(self, request: Request, account: CloudflareAccount) -> JSONResponse:
        self._count(account, "verify:ok")
        token_id = hashlib.sha256(account.token.encode()).hexdigest()[:32]
        return self._rest(
            {"id": token_id, "status": "active"},
            messages=[{"code": 10000, "message": "This API Token is valid and active"}],
            headers=request.state.ratelimit,
        )

    async def _verify_user(self, request: Request) -> Response:
        account = self._rest_auth(request, "verify", None)
        if isinstance(account, Response):
            return account
        return self._token_status(request, account)

    async def _verify_account(self, request: Request) -> Response:
        account_id = request.path_params["account_id"]
        owner = self._by_token(request)
        if owner is not None and owner.account_id != account_id.lower():
            # An account-owned token checked against another account is not a valid token there.
            self._count(owner, "verify:auth_failed")
            error = {"code": 1000, "message": "Invalid API Token"}
            return self._rest(None, status=401, errors=[error])
        account = self._rest_auth(request, "verify", account_id)
        if isinstance(account, Response):
            return account
        return self._token_status(request, account)

    def _page(self, request: Request, items: list[Any], per_page: int) -> JSONResponse:
        try:
            page = int(request.query_params.get("page", "1"))
        except ValueError:
            page = 0
        if page < 1:
            error = {"code": 8000024, "message": "Invalid list options provided"}
            return self._rest(None, status=400, errors=[error])
        chunk = items[(page - 1) * per_page : page * per_page]
        info = {
            "page": page,
            "per_page": per_page,
            "count": len(chunk),
            "total_count": len(items),
            "total_pages": math.ceil(len(items) / per_page),
        }
        return self._rest(chunk, result_info=info, headers=request.state.ratelimit)

    async def _projects(self, request: Request) -> Response:
        account = self._rest_auth(request, "projects", request.path_params["account_id"])
        if isinstance(account, Response):
            return account
        self._count(account, "projects:ok")
        projects = [
            {"name": name, "subdomain": f"{name}.pages.dev", "production_branch": "main"}
            for name in account.pages
        ]
        return self._page(request, projects, _PER_PAGE_PROJECTS)

    async def _deployments(self, request: Request) -> Response:
        account = self._rest_auth(request, "deployments", request.path_params["account_id"])
        if isinstance(account, Response):
            return account
        project = request.path_params["project"]
        if project not in account.pages:
            self._count(account, "deployments:not_found")
            error = {"code": 8000007, "message": "Project not found."}
            return self._rest(None, status=404, errors=[error])
        self._count(account, "deployments:ok")
        now = self.clock()
        created = sorted((t for t in account.pages[project] if t <= now), reverse=True)
        deployments = [_deployment(account, project, moment) for moment in created]
        return self._page(request, deployments, _PER_PAGE_DEPLOYMENTS)

    async def _not_found(self, request: Request) -> Response:
        self._count(None, "unrouted")
        message = (
            f"Could not route to {request.url.path}, perhaps your object identifier is invalid?"
        )
        return self._rest(None, status=404, errors=[{"code": 7003, "message": message}])

    # --- GraphQL --------------------------------------------------------------------------------

    def _graphql_error(
        self, message: str, path: Sequence[str] | None, status: int = 200, **headers: str
    ) -> JSONResponse:
        error = {
            "message": message,
            "path": path,
            "extensions": {"timestamp": _stamp(self.clock())},
        }
        return JSONResponse(
            {"data": None, "errors": [error]},
            status_code=status,
            headers={**self._date(), **headers},
        )

    async def _graphql(self, request: Request) -> Response:
        account = self._by_token(request)
        if account is None:
            self._count(None, "graphql:auth_failed")
            return self._graphql_error("Unauthorized", None, status=401)
        allowed, headers = self._spend(account, "graphql")
        if not allowed:
            self._count(account, "graphql:rate_limited")
            return self._graphql_error(
                "rate limiter budget depleted, try again after 5 minutes", None, 429, **headers
            )
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            self._count(account, "graphql:bad_request")
            return self._graphql_error("failed to decode the request body as JSON", None)
        variables = body.get("variables") or {}
        operation = body.get("operationName")
        try:
            root = parse_graphql(body["query"], operation if isinstance(operation, str) else None)
            data = self._execute(account, root, variables if isinstance(variables, dict) else {})
        except GraphQLSyntaxError as exc:
            self._count(account, "graphql:syntax_error")
            return self._graphql_error(str(exc), None)
        except _QueryError as exc:
            self._count(account, "graphql:error")
            return self._graphql_error(exc.message, exc.path)
        self._count(account, "graphql:ok")
        return JSONResponse({"data": data, "errors": None}, headers=self._date())

    def _execute(
        self, caller: CloudflareAccount, root: Sequence[Field], variables: Mapping[str, Any]
    ) -> dict[str, Any]:
        now = self.clock().astimezone(UTC)
        data: dict[str, Any] = {}
        for node in root:
            if node.name != "viewer":
                raise _QueryError(f'unknown field "{node.name}"', [node.alias])
            viewer: dict[str, Any] = {}
            for child in node.selections:
                if child.name != "accounts":
                    raise _QueryError(f'unknown field "{child.name}"', [node.alias, child.alias])
                flt = _resolve(child.arguments.get("filter") or {}, variables)
                tag = flt.get("accountTag") if isinstance(flt, dict) else None
                if not isinstance(tag, str) or tag.lower() != caller.account_id:
                    raise _QueryError(
                        "not authorized for that account", [node.alias, child.alias, "0"]
                    )
                path = [node.alias, child.alias, "0"]
                viewer[child.alias] = [self._account_node(caller, child, path, variables, now)]
            data[node.alias] = viewer
        return data

    def _account_node(
        self,
        account: CloudflareAccount,
        node: Field,
        path: list[str],
        variables: Mapping[str, Any],
        now: datetime,
    ) -> dict[str, Any]:
        answer: dict[str, Any] = {}
        for part in node.selections:
            dataset = _DATASETS.get(part.name)
            where = [*path, part.alias]
            if dataset is None:
                raise _QueryError(f'unknown field "{part.name}"', where)
            source, schema = dataset
            arguments = _resolve(dict(part.arguments), variables)
            flt = arguments.get("filter") or {}
            if not isinstance(flt, dict):
                raise _QueryError("filter must be an object", where)
            limit = arguments.get("limit", 10_000)
            if not isinstance(limit, int) or limit < 1:
                raise _QueryError("limit must be a positive integer", where)
            rows = source(account, _window(flt, now), self.epoch)
            answer[part.alias] = _group(rows, schema, part, where, flt)[:limit]
        return answer


def _deployment(account: CloudflareAccount, project: str, created: datetime) -> dict[str, Any]:
    """One Pages deployment as GET .../deployments lists it (a Git-triggered build)."""
    ident = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{account.account_id}/{project}/{created}"))
    stamp = _stamp(created)
    stage = {"status": "success", "started_on": stamp, "ended_on": stamp}
    return {
        "id": ident,
        "short_id": ident[:8],
        "project_name": project,
        "environment": "production",
        "url": f"https://{ident[:8]}.{project}.pages.dev",
        "created_on": stamp,
        "modified_on": stamp,
        "deployment_trigger": {
            "type": "push",
            "metadata": {"branch": "main", "commit_hash": ident.replace("-", "")[:40]},
        },
        "latest_stage": {"name": "deploy", **stage},
        "stages": [
            {"name": name, **stage}
            for name in ("queued", "initialize", "clone_repo", "build", "deploy")
        ],
        "is_skipped": False,
    }
