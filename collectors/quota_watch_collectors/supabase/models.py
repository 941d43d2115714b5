"""Pydantic models of the Management API payloads the collector reads (unknown fields ignored)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "AnalyticsError",
    "ApiCountRow",
    "ApiCountsResponse",
    "LogsCountResponse",
    "OrgProject",
    "OrgProjectsPage",
    "OrgUsageItem",
    "OrgUsageResponse",
    "Organization",
    "OrganizationDetail",
    "Pagination",
    "SizeRow",
    "Subscription",
    "UtcDatetime",
    "parse_timestamp",
]


def parse_timestamp(value: Any) -> Any:
    """ISO 8601 text (a missing zone means UTC) or a Unix time in s, ms or µs -> aware UTC."""
    if isinstance(value, bool):
        return value  # let pydantic reject it
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError("not a finite timestamp")
        # Logflare hands out microseconds, billing endpoints seconds: tell them by magnitude.
        seconds = value / 1e6 if value > 1e14 else value / 1e3 if value > 1e11 else value
        return datetime.fromtimestamp(seconds, UTC)
    if isinstance(value, str):
        moment = datetime.fromisoformat(value.strip())
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return value


def _count(value: Any) -> Any:
    """A non-negative number; analytics backends send integers as JSON strings at times."""
    if isinstance(value, str):
        value = float(value.strip())
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("expected a number")
    if not math.isfinite(value) or value < 0:
        raise ValueError("expected a finite number >= 0")
    return float(value)


UtcDatetime = Annotated[datetime, BeforeValidator(parse_timestamp)]
Count = Annotated[float, BeforeValidator(_count)]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# --- organizations and projects (types.gen.go of supabase/cli) ---------------------------------


class Organization(_Payload):
    """An element of GET /v1/organizations (OrganizationResponseV1)."""

    slug: str = Field(min_length=1)
    name: str = ""


class OrganizationDetail(_Payload):
    """GET /v1/organizations/{slug} (V1OrganizationSlugResponse); `plan` is optional there."""

    plan: str | None = None


class Pagination(_Payload):
    """The `pagination` object of OrganizationProjectsResponse."""

    count: int = Field(ge=0)
    limit: int = Field(ge=0)
    offset: int = Field(ge=0)


class OrgProject(_Payload):
    """An element of OrganizationProjectsResponse.projects."""

    ref: str = Field(min_length=1)
    name: str = ""
    status: str
    inserted_at: UtcDatetime | None = None
    is_branch: bool = False


class OrgProjectsPage(_Payload):
    """GET /v1/organizations/{slug}/projects?offset&limit (OrganizationProjectsResponse)."""

    pagination: Pagination
    projects: list[OrgProject]


# --- analytics endpoints: HTTP 200 may carry `error` ------------------------------------------


class AnalyticsError(_Payload):
    """The object form of the analytics `error` field (AnalyticsResponseError1)."""

    code: float | None = None
    message: str = ""
    status: str = ""


class ApiCountRow(_Payload):
    """One bucket of usage.api-counts; `timestamp` is the bucket's start (timestamp_trunc)."""

    timestamp: UtcDatetime
    total_auth_requests: Count
    total_realtime_requests: Count
    total_rest_requests: Count
    total_storage_requests: Count

    @property
    def total(self) -> float:
        """Requests of every kind in the bucket."""
        return (
            self.total_auth_requests
            + self.total_realtime_requests
            + self.total_rest_requests
            + self.total_storage_requests
        )


class ApiCountsResponse(_Payload):
    """GET /v1/projects/{ref}/analytics/endpoints/usage.api-counts (V1GetUsageApiCountResponse)."""

    result: list[ApiCountRow] | None = None
    error: str | AnalyticsError | None = None


class LogsCountRow(_Payload):
    """The single row of `select count() as count from logs where ...`."""

    count: Count


class LogsCountResponse(_Payload):
    """GET /v1/projects/{ref}/analytics/endpoints/logs with a count query."""

    result: list[LogsCountRow] | None = None
    error: str | AnalyticsError | None = None


# --- read-only SQL ----------------------------------------------------------------------------


class SizeRow(_Payload):
    """The row of the collector's size query (POST /v1/projects/{ref}/database/query/read-only)."""

    db_bytes: Count
    storage_bytes: Count


# --- undocumented dashboard endpoints (/platform/...) ------------------------------------------


class OrgUsageItem(_Payload):
    """An element of OrgUsageResponse.usages (Supabase Studio's type; sizes in GB)."""

    metric: str
    usage: Count | None = None
    pricing_free_units: Count | None = None
    available_in_plan: bool = True
    unlimited: bool = False


class OrgUsageResponse(_Payload):
    """GET /platform/organizations/{slug}/usage."""

    usages: list[OrgUsageItem]


class Subscription(_Payload):
    """GET /platform/organizations/{slug}/billing/subscription (Unix seconds)."""

    current_period_start: UtcDatetime
    current_period_end: UtcDatetime
