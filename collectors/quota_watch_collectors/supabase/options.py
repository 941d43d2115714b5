"""Options of the supabase collector: the access token, API root, project filter and switches."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, field_validator

from quota_watch.sdk import ApiBase, parse_duration

__all__ = ["DEFAULT_API_BASE", "SupabaseOptions"]

DEFAULT_API_BASE = "https://api.supabase.com"
# Project refs are 20 lowercase letters; a looser check still catches URLs and typos with spaces.
_REF = re.compile(r"^[a-z0-9]{8,40}$")


def _duration(value: Any) -> Any:
    return value if isinstance(value, timedelta) else parse_duration(value)


class SupabaseOptions(BaseModel):
    """`[accounts.options]` of a `supabase` account."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: SecretStr = Field(
        description="Management API access token (sbp_...); `token_file` in the config"
    )
    api_base: ApiBase = Field(
        default=DEFAULT_API_BASE, description="root of the Management API (no trailing /v1)"
    )
    project_refs: tuple[str, ...] | None = Field(
        default=None,
        description="report only these projects (and their organizations); default: every "
        "project of every Free-plan organization the token sees",
    )
    billing_anchor_day: int | None = Field(
        default=None,
        ge=1,
        le=31,
        description="day of the month the organizations' billing cycle starts (default: the "
        "catalogue's 1); see the organization's billing page",
    )
    use_org_usage_endpoint: bool = Field(
        default=False,
        description="try the undocumented /platform/organizations/{slug}/usage endpoint (egress, "
        "MAU, realtime, storage, invocations as the dashboard shows them); falls back on 401/403",
    )
    count_function_invocations_from_logs: bool = Field(
        default=True,
        description="count Edge Function invocations from the function_edge_logs log source and "
        "add them up over the billing cycle in the account's state",
    )
    logs_endpoint: Literal["logs", "logs.all"] = Field(
        default="logs",
        description="analytics endpoint invocations are counted with: logs (the unified "
        "ClickHouse logs endpoint) or logs.all (its BigQuery predecessor, retired 2026-09-23)",
    )
    pause_risk_from_api_counts: bool = Field(
        default=True,
        description="derive inactive_time from the API request counts (usage.api-counts)",
    )
    query_database: bool = Field(
        default=True,
        description="run one read-only SQL query per project for database and storage size",
    )
    log_delay: Annotated[timedelta, BeforeValidator(_duration)] = Field(
        default=timedelta(minutes=5),
        description="how far behind now invocation counting stops, so late log lines count",
    )
    page_size: int = Field(
        default=100, ge=1, le=1000, description="projects per page when listing an organization"
    )

    @field_validator("project_refs")
    @classmethod
    def _check_refs(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("list at least one project ref, or leave project_refs out")
        for ref in value:
            if not _REF.match(ref):
                raise ValueError(f"{ref!r} is not a project ref (the id in <ref>.supabase.co)")
        if len(set(value)) != len(value):
            raise ValueError("a project ref is listed twice")
        return value

    @field_validator("log_delay")
    @classmethod
    def _check_delay(cls, value: timedelta) -> timedelta:
        if value > timedelta(hours=6):
            raise ValueError("at most 6h: counting lags this far behind now")
        return value
