"""Pydantic models of the Cloudflare payloads the collector reads: REST envelope, GraphQL groups.

Only the fields the collector uses are declared; extra fields are ignored, so an added field is
harmless and a removed or renamed one is a validation error naming it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "Amount",
    "CfMessage",
    "D1Group",
    "D1StorageGroup",
    "DoPeriodicGroup",
    "DoSqlStorageGroup",
    "Envelope",
    "GraphQLEnvelope",
    "GraphQLError",
    "KvOperationsGroup",
    "KvStorageGroup",
    "PagesDeployment",
    "PagesProject",
    "QueuesGroup",
    "R2OperationsGroup",
    "R2StorageGroup",
    "RequestsGroup",
    "ResultInfo",
    "TokenStatus",
    "UtcDatetime",
    "WorkersGroup",
]


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    return value


Amount = Annotated[float, BeforeValidator(_no_bool), Field(ge=0, allow_inf_nan=False)]
"""A count, byte size or duration as the API reports it: a finite number >= 0."""


def _utc(value: datetime) -> datetime:
    # Cloudflare writes UTC times with a Z; one without a zone is read as UTC too.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
"""A timestamp, always timezone-aware UTC."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# --- REST -------------------------------------------------------------------------------------


class CfMessage(_Model):
    """One entry of the envelope's `errors` or `messages` (error_chain entries alike)."""

    code: int | None = None
    message: str = ""
    error_chain: list[CfMessage] | None = None


class ResultInfo(_Model):
    """Pagination of a list result (`result_info`); every field is optional in practice."""

    page: int | None = None
    per_page: int | None = None
    count: int | None = None
    total_count: int | None = None
    total_pages: int | None = None


class Envelope(_Model):
    """The v4 REST envelope: `{success, errors, messages, result, result_info}`."""

    success: bool
    errors: list[CfMessage] = Field(default_factory=list)
    messages: list[Any] = Field(default_factory=list)
    result: Any = None
    result_info: ResultInfo | None = None


class TokenStatus(_Model):
    """`result` of GET /user/tokens/verify (and /accounts/{id}/tokens/verify)."""

    id: str
    status: str
    expires_on: UtcDatetime | None = None
    not_before: UtcDatetime | None = None


class PagesProject(_Model):
    """One element of GET /accounts/{id}/pages/projects."""

    name: str = Field(min_length=1)


class DeploymentTrigger(_Model):
    """What caused a Pages deployment: "push" (Git) or "ad_hoc" (Direct Upload)."""

    type: str | None = None


class PagesDeployment(_Model):
    """One element of GET /accounts/{id}/pages/projects/{name}/deployments."""

    id: str = Field(min_length=1)
    created_on: UtcDatetime
    is_skipped: bool | None = None
    deployment_trigger: DeploymentTrigger | None = None


# --- GraphQL ----------------------------------------------------------------------------------


class GraphQLError(_Model):
    """One entry of a GraphQL response's `errors`."""

    message: str = ""
    path: list[str | int] | None = None
    extensions: dict[str, Any] | None = None


class GraphQLEnvelope(_Model):
    """`{"data": ..., "errors": ...}` of POST /graphql."""

    data: dict[str, Any] | None = None
    errors: list[GraphQLError] | None = None


class _Requests(_Model):
    requests: Amount


class RequestsGroup(_Model):
    """A group with `sum { requests }` (Pages Functions, Durable Objects invocations)."""

    sum: _Requests


class _WorkersQuantiles(_Model):
    cpuTimeP99: Amount  # microseconds


class _ScriptName(_Model):
    scriptName: str


class WorkersGroup(_Model):
    """workersInvocationsAdaptive grouped by scriptName."""

    sum: _Requests
    quantiles: _WorkersQuantiles
    dimensions: _ScriptName


class _ActionType(_Model):
    actionType: str = Field(min_length=1)


class KvOperationsGroup(_Model):
    """kvOperationsAdaptiveGroups grouped by actionType."""

    sum: _Requests
    dimensions: _ActionType


class _D1Sum(_Model):
    rowsRead: Amount
    rowsWritten: Amount


class D1Group(_Model):
    """d1AnalyticsAdaptiveGroups, no dimension."""

    sum: _D1Sum


class _DoPeriodicSum(_Model):
    # Which of these are present depends on the options; the collector checks the ones it asked for.
    duration: Amount | None = None  # GB-s
    activeTime: Amount | None = None  # microseconds
    rowsRead: Amount | None = None
    rowsWritten: Amount | None = None


class DoPeriodicGroup(_Model):
    """durableObjectsPeriodicGroups, no dimension."""

    sum: _DoPeriodicSum


class _QueuesSum(_Model):
    billableOperations: Amount


class QueuesGroup(_Model):
    """queueMessageOperationsAdaptiveGroups, no dimension."""

    sum: _QueuesSum


class R2OperationsGroup(_Model):
    """r2OperationsAdaptiveGroups grouped by actionType."""

    sum: _Requests
    dimensions: _ActionType


class _R2StorageMax(_Model):
    payloadSize: Amount
    metadataSize: Amount


class _BucketName(_Model):
    bucketName: str


class R2StorageGroup(_Model):
    """r2StorageAdaptiveGroups grouped by bucketName."""

    max: _R2StorageMax
    dimensions: _BucketName


class _KvStorageMax(_Model):
    byteCount: Amount


class _NamespaceDay(_Model):
    namespaceId: str = Field(min_length=1)
    date: date


class KvStorageGroup(_Model):
    """kvStorageAdaptiveGroups grouped by namespaceId and date."""

    max: _KvStorageMax
    dimensions: _NamespaceDay


class _D1StorageMax(_Model):
    databaseSizeBytes: Amount


class _DatabaseDay(_Model):
    databaseId: str = Field(min_length=1)
    date: date


class D1StorageGroup(_Model):
    """d1StorageAdaptiveGroups grouped by databaseId and date."""

    max: _D1StorageMax
    dimensions: _DatabaseDay


class _StoredBytes(_Model):
    storedBytes: Amount


class DoSqlStorageGroup(_Model):
    """durableObjectsSqlStorageGroups grouped by namespaceId and date."""

    max: _StoredBytes
    dimensions: _NamespaceDay
