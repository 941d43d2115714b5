"""The cloudflare collector: one GraphQL Analytics query per poll, plus Pages builds via REST."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from pydantic import BaseModel, TypeAdapter, ValidationError

from quota_watch.sdk import (
    AuthError,
    CollectContext,
    CollectorBase,
    LimitSpec,
    RateLimitStatus,
    Reading,
    UnexpectedResponse,
)
from quota_watch_collectors.cloudflare.client import CloudflareApi, describe_validation_error
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
    TokenStatus,
    WorkersGroup,
)
from quota_watch_collectors.cloudflare.options import CloudflareOptions
from quota_watch_collectors.cloudflare.pages import count_pages_builds
from quota_watch_collectors.cloudflare.query import (
    GROUP_LIMIT,
    OPERATION,
    Part,
    UsageQuery,
    build_usage_query,
)

if TYPE_CHECKING:
    import httpx

__all__ = [
    "DO_BILLED_MEMORY_GB",
    "KV_ACTIONS",
    "R2_CLASS_A",
    "R2_CLASS_B",
    "R2_FREE",
    "CloudflareCollector",
    "r2_class",
]

log = logging.getLogger(__name__)

KV_ACTIONS: Mapping[str, str] = {
    "read": "kv_reads",
    "write": "kv_writes",
    "delete": "kv_deletes",
    "list": "kv_lists",
}
"""kvOperationsAdaptiveGroups actionType (lower case) -> the limit it counts against."""

# https://developers.cloudflare.com/r2/pricing/ (Class A / Class B / free operations).
R2_CLASS_A = frozenset(
    {
        "ListBuckets",
        "PutBucket",
        "ListObjects",
        "PutObject",
        "CopyObject",
        "CompleteMultipartUpload",
        "CreateMultipartUpload",
        "LifecycleStorageTierTransition",
        "ListMultipartUploads",
        "UploadPart",
        "UploadPartCopy",
        "ListParts",
        "PutBucketEncryption",
        "PutBucketCors",
        "PutBucketLifecycleConfiguration",
    }
)
R2_CLASS_B = frozenset(
    {
        "HeadBucket",
        "HeadObject",
        "GetObject",
        "UsageSummary",
        "GetBucketEncryption",
        "GetBucketLocation",
        "GetBucketCors",
        "GetBucketLifecycleConfiguration",
    }
)
R2_FREE = frozenset({"DeleteObject", "DeleteBucket", "AbortMultipartUpload"})

DO_BILLED_MEMORY_GB = 128 / 1000
"""Durable Objects duration is billed for 128 MB per active object, and Cloudflare's pricing
examples divide by 1 GB = 1000 MB ("4,320,000 seconds * 128 MB / 1 GB = 552,960 GB-s"): 0.128 GB
per active second (only used with do_duration = "activeTime")."""

_ACCOUNT = "data.viewer.accounts[0]"
_ADAPTERS: dict[type[BaseModel], TypeAdapter[list[Any]]] = {}
_G = TypeVar("_G", bound=BaseModel)


def r2_class(action: str) -> str | None:
    """The R2 limit an operation counts against: Class A, Class B, or None when it is free.

    Operations missing from the pricing page's lists count as Class A, the dearer class, so an
    unknown operation over- rather than under-counts (and is logged)."""
    if action in R2_CLASS_A:
        return "r2_class_a_operations"
    if action in R2_CLASS_B:
        return "r2_class_b_operations"
    if action in R2_FREE:
        return None
    log.warning("R2 operation %r is not in the pricing lists: counted as Class A", action)
    return "r2_class_a_operations"


def _adapter(model: type[BaseModel]) -> TypeAdapter[list[Any]]:
    if model not in _ADAPTERS:
        _ADAPTERS[model] = TypeAdapter(list[model])  # type: ignore[valid-type]
    return _ADAPTERS[model]


def _start(ctx: CollectContext, limit: str, fallback: datetime) -> datetime:
    """The start of `limit`'s current period as the core computed it (fallback: the UTC one)."""
    period = ctx.periods.get(limit)
    return period.start if period is not None and period.start is not None else fallback


def _latest(rows: Iterable[tuple[str, date, float]]) -> dict[str, float]:
    """Per resource, the value of its latest day (the largest value when a day repeats)."""
    best: dict[str, tuple[date, float]] = {}
    for resource, day, value in rows:
        known = best.get(resource)
        if known is None or day > known[0] or (day == known[0] and value > known[1]):
            best[resource] = (day, value)
    return {resource: value for resource, (_, value) in best.items()}


class _Groups:
    """The validated rows of each alias of the query's answer."""

    def __init__(self, query: UsageQuery, data: Mapping[str, Any]) -> None:
        viewer = data.get("viewer")
        accounts = viewer.get("accounts") if isinstance(viewer, dict) else None
        if not isinstance(accounts, list):
            raise UnexpectedResponse("GraphQL: data.viewer.accounts is missing or not a list")
        if len(accounts) != 1 or not isinstance(accounts[0], dict):
            raise UnexpectedResponse(
                f"GraphQL: expected 1 account in data.viewer.accounts, got {len(accounts)}"
            )
        self._account: dict[str, Any] = accounts[0]
        self._query = query
        self._rows: dict[str, list[Any]] = {}

    def rows(self, alias: str, model: type[_G]) -> list[_G]:
        """The rows of `alias` validated as `model`; [] when the query did not ask for it."""
        part = self._query.part(alias)
        if part is None:
            return []
        if alias not in self._rows:
            self._rows[alias] = self._validate(part)
        return cast(list[_G], self._rows[alias])

    def _validate(self, part: Part) -> list[Any]:
        where = f"{_ACCOUNT}.{part.alias}"
        if part.alias not in self._account:
            raise UnexpectedResponse(f"GraphQL: {where} ({part.dataset}) is missing")
        raw = self._account[part.alias]
        if not isinstance(raw, list):
            raise UnexpectedResponse(f"GraphQL: {where} ({part.dataset}) is not a list")
        if len(raw) >= GROUP_LIMIT:
            raise UnexpectedResponse(
                f"GraphQL: {where} ({part.dataset}) returned {len(raw)} rows, the query's "
                "limit: the answer may be truncated"
            )
        try:
            return _adapter(part.model).validate_python(raw)
        except ValidationError as exc:
            problem = describe_validation_error(exc, where)
        raise UnexpectedResponse(f"GraphQL ({part.dataset}): {problem}")


class CloudflareCollector(CollectorBase):
    """Cloudflare free-tier usage of one account: daily Workers, KV, D1, Durable Objects and
    Queues caps, monthly R2 operations and Pages builds, and storage levels."""

    name: ClassVar[str] = "cloudflare"
    Options: ClassVar[type[BaseModel]] = CloudflareOptions

    options: CloudflareOptions

    def __init__(
        self,
        options: CloudflareOptions,
        client: httpx.AsyncClient,
        limits: Mapping[str, LimitSpec] | None = None,
    ) -> None:
        super().__init__(options, client, limits)

    def _api(
        self, now: datetime, report: Callable[[RateLimitStatus], None] | None
    ) -> CloudflareApi:
        return CloudflareApi(self.client, self.options, now=now, on_rate_limit=report)

    async def probe(self) -> None:
        """Verify the token (user or account-owned, per `token_kind`): it must be active."""
        now = datetime.now(UTC)
        api = self._api(now, None)
        if self.options.token_kind == "account":
            path = f"/accounts/{self.options.account_id}/tokens/verify"
            hint = "a user token needs token_kind = 'user'"
        else:
            path = "/user/tokens/verify"
            hint = "an account-owned token needs token_kind = 'account'"
        envelope = await api.get(path, permission="a valid, active API token", hint=hint)
        try:
            token = TokenStatus.model_validate(envelope.result)
        except ValidationError as exc:
            problem = describe_validation_error(exc, "result")
            raise UnexpectedResponse(f"GET {path}: {problem}") from None
        if token.status != "active":
            raise AuthError(f"GET {path}: the API token is {token.status}, not active")
        if token.expires_on is not None and token.expires_on <= now:
            raise AuthError(f"GET {path}: the API token expired at {token.expires_on.isoformat()}")

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """One GraphQL query (daily caps, R2 operations, storage) and, when enabled, the Pages
        deployment lists; readings in base units."""
        now = ctx.now.astimezone(UTC)

        def report(status: RateLimitStatus) -> None:
            ctx.report_rate_limit(status.remaining, status.limit, status.resets_at)

        api = self._api(now, report)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        day_start = _start(ctx, "workers_requests", midnight)
        month_start = _start(ctx, "r2_class_a_operations", midnight.replace(day=1))
        query = build_usage_query(
            self.options, now=now, day_start=day_start, month_start=month_start
        )
        data = await api.graphql(OPERATION, query.document, query.variables, hints=query.hints)
        groups = _Groups(query, data)
        readings = self._daily(groups, day_start)
        readings += self._r2_operations(groups, query, month_start)
        readings += self._storage(groups)
        if self.options.include_pages_builds:
            since = _start(ctx, "pages_builds", midnight.replace(day=1))
            builds = await count_pages_builds(api, self.options, since=since, now=now)
            readings.append(Reading("pages_builds", float(builds), period_start=since))
        return readings

    # -- mapping -------------------------------------------------------------------------------

    def _daily(self, groups: _Groups, start: datetime) -> list[Reading]:
        workers = groups.rows("workers", WorkersGroup)
        requests = sum(g.sum.requests for g in workers)
        requests += sum(g.sum.requests for g in groups.rows("pagesFunctions", RequestsGroup))
        readings = [Reading("workers_requests", requests, period_start=start)]
        p99: dict[str, float] = {}
        for group in workers:
            script = group.dimensions.scriptName
            p99[script] = max(p99.get(script, 0.0), group.quantiles.cpuTimeP99 / 1e6)
        readings += [
            Reading("workers_cpu_p99", value, resource=script, period_start=start)
            for script, value in p99.items()
        ]

        kv: dict[str, float] = dict.fromkeys(KV_ACTIONS.values(), 0.0)
        for index, op in enumerate(groups.rows("kv", KvOperationsGroup)):
            action = op.dimensions.actionType.lower()
            if action not in KV_ACTIONS:
                raise UnexpectedResponse(
                    f"GraphQL: {_ACCOUNT}.kv[{index}].dimensions.actionType is "
                    f"{op.dimensions.actionType!r}, not one of {', '.join(KV_ACTIONS)}: "
                    "cannot tell which KV cap it counts against"
                )
            kv[KV_ACTIONS[action]] += op.sum.requests
        readings += [Reading(limit, value, period_start=start) for limit, value in kv.items()]

        d1 = groups.rows("d1", D1Group)
        readings += [
            Reading("d1_rows_read", sum(g.sum.rowsRead for g in d1), period_start=start),
            Reading("d1_rows_written", sum(g.sum.rowsWritten for g in d1), period_start=start),
        ]
        do_requests = sum(g.sum.requests for g in groups.rows("doRequests", RequestsGroup))
        readings.append(Reading("do_requests", do_requests, period_start=start))
        readings += self._do_periodic(groups.rows("doPeriodic", DoPeriodicGroup), start)
        queues = sum(g.sum.billableOperations for g in groups.rows("queues", QueuesGroup))
        readings.append(Reading("queues_operations", queues, period_start=start))
        return readings

    def _do_periodic(self, rows: list[DoPeriodicGroup], start: datetime) -> list[Reading]:
        options = self.options

        def total(field: str) -> float:
            values = []
            for index, row in enumerate(rows):
                value = getattr(row.sum, field)
                if value is None:
                    raise UnexpectedResponse(
                        f"GraphQL: {_ACCOUNT}.doPeriodic[{index}].sum.{field} is missing or null"
                    )
                values.append(float(value))
            return sum(values)

        readings: list[Reading] = []
        if options.do_duration == "duration":
            readings.append(Reading("do_duration", total("duration"), period_start=start))
        elif options.do_duration == "activeTime":
            gb_seconds = total("activeTime") / 1e6 * DO_BILLED_MEMORY_GB
            readings.append(Reading("do_duration", gb_seconds, period_start=start))
        if options.include_do_sql:
            readings += [
                Reading("do_rows_read", total("rowsRead"), period_start=start),
                Reading("do_rows_written", total("rowsWritten"), period_start=start),
            ]
        return readings

    @staticmethod
    def _r2_operations(groups: _Groups, query: UsageQuery, start: datetime) -> list[Reading]:
        counts = {"r2_class_a_operations": 0.0, "r2_class_b_operations": 0.0}
        for alias in query.r2_aliases:
            for op in groups.rows(alias, R2OperationsGroup):
                limit = r2_class(op.dimensions.actionType)
                if limit is not None:
                    counts[limit] += op.sum.requests
        return [Reading(limit, value, period_start=start) for limit, value in counts.items()]

    def _storage(self, groups: _Groups) -> list[Reading]:
        readings: list[Reading] = []
        buckets: dict[str, float] = defaultdict(float)
        for row in groups.rows("r2Storage", R2StorageGroup):
            size = row.max.payloadSize + row.max.metadataSize
            bucket = row.dimensions.bucketName
            buckets[bucket] = max(buckets[bucket], size)
        readings += _total("r2_storage", buckets.values(), "r2StorageAdaptiveGroups")

        kv = _latest(
            (r.dimensions.namespaceId, r.dimensions.date, r.max.byteCount)
            for r in groups.rows("kvStorage", KvStorageGroup)
        )
        readings += _total("kv_storage", kv.values(), "kvStorageAdaptiveGroups")

        d1 = _latest(
            (r.dimensions.databaseId, r.dimensions.date, r.max.databaseSizeBytes)
            for r in groups.rows("d1Storage", D1StorageGroup)
        )
        readings += [Reading("d1_storage", size, resource=db) for db, size in d1.items()]
        readings += _total("d1_storage_total", d1.values(), "d1StorageAdaptiveGroups")

        if self.options.include_do_sql:
            do = _latest(
                (r.dimensions.namespaceId, r.dimensions.date, r.max.storedBytes)
                for r in groups.rows("doSqlStorage", DoSqlStorageGroup)
            )
            readings += _total("do_storage", do.values(), "durableObjectsSqlStorageGroups")
        return readings


def _total(limit: str, values: Iterable[float], dataset: str) -> list[Reading]:
    """One account-wide level reading, or none when the dataset had no data point to sum."""
    values = list(values)
    if not values:
        # No data point is not "nothing stored": the dataset may lag or the product be unused.
        log.info("%s: no data point in the last day, %s not reported", dataset, limit)
        return []
    return [Reading(limit, sum(values))]
