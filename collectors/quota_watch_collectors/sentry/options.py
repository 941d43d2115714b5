"""Options of the sentry collector: the token, the organization, the API root, the billing day."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from quota_watch.sdk import ApiBase

__all__ = ["DEFAULT_API_BASE", "SentryOptions"]

DEFAULT_API_BASE = "https://sentry.io/api/0"
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")


class SentryOptions(BaseModel):
    """`[accounts.options]` of a `sentry` account (one Sentry organization)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: SecretStr = Field(description="organization auth token, or a user token with org:read")
    organization: str = Field(description="the organization's slug (or numeric id)")
    api_base: ApiBase = Field(
        default=DEFAULT_API_BASE,
        description="API root: https://sentry.io/api/0 (US), https://de.sentry.io/api/0 (EU), "
        "or a self-hosted https://host/api/0",
    )
    billing_anchor_day: int | None = Field(
        default=None,
        ge=1,
        le=31,
        description="day of the month (UTC) the organization's usage month starts; default: "
        "the catalogue's (the 1st)",
    )
    tracing: Literal["spans", "transactions"] = Field(
        default="spans",
        description="which tracing unit the plan counts: 'spans' (current plans) or "
        "'transactions' (older plans)",
    )
    absent_is_zero: bool = Field(
        default=False,
        description="read a category with no group in the answer as 0 accepted (unconfirmed: "
        "Sentry appears to omit empty groups); off: that category is left out as unknown",
    )

    @field_validator("organization")
    @classmethod
    def _check_organization(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError(f"{value!r} is not a Sentry organization slug or id")
        return value
