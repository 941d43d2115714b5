"""Options of the cloudflare collector: account, API token and switches for unconfirmed fields."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from quota_watch.sdk import ApiBase

__all__ = ["DEFAULT_API_BASE", "CloudflareOptions"]

DEFAULT_API_BASE = "https://api.cloudflare.com/client/v4"


class CloudflareOptions(BaseModel):
    """`[accounts.options]` of a `cloudflare` account."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    account_id: str = Field(
        pattern=r"^[0-9a-fA-F]{32}$", description="the account ID (32 hex digits, the accountTag)"
    )
    token: SecretStr = Field(description="API token (Account Analytics: Read; see README)")
    api_base: ApiBase = Field(default=DEFAULT_API_BASE, description="REST and GraphQL API root")
    token_kind: Literal["user", "account"] = Field(
        default="user",
        description="whether the token is a user token or an account-owned token (probe endpoint)",
    )
    include_pages_functions: bool = Field(
        default=True,
        description="add pagesFunctionsInvocationsAdaptiveGroups requests to workers_requests",
    )
    do_duration: Literal["duration", "activeTime", "off"] = Field(
        default="duration",
        description="durableObjectsPeriodicGroups field for do_duration (GB-s or microseconds)",
    )
    include_do_sql: bool = Field(
        default=True,
        description="read Durable Objects SQL rows and durableObjectsSqlStorageGroups storage",
    )
    include_pages_builds: bool = Field(
        default=True, description="count Pages builds this month through REST (Pages: Read)"
    )
    pages_count_direct_uploads: bool = Field(
        default=False,
        description="count Direct Upload deployments (trigger type ad_hoc) as Pages builds",
    )
    r2_query_span_days: int = Field(
        default=7, ge=1, le=31, description="longest window of one R2 operations sub-query"
    )
    max_pages: int = Field(
        default=100, ge=1, le=1000, description="most pages followed in one REST listing"
    )

    @field_validator("account_id")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()

    @field_validator("token")
    @classmethod
    def _check_token(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value()
        if not secret.strip():
            raise ValueError("the token is empty")
        if any(ch in secret for ch in "\r\n\0"):
            raise ValueError("the token contains a line break or NUL")
        return value
