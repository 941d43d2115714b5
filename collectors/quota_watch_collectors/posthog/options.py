"""Options of the posthog collector: the personal API key, the host and the billing day."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from quota_watch.sdk import ApiBase

__all__ = ["DEFAULT_API_BASE", "PostHogOptions"]

DEFAULT_API_BASE = "https://us.posthog.com"


class PostHogOptions(BaseModel):
    """`[accounts.options]` of a `posthog` account (one PostHog organization)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: SecretStr = Field(
        description="personal API key (phx_...) with billing:read, of an organization owner"
    )
    api_base: ApiBase = Field(
        default=DEFAULT_API_BASE,
        description="PostHog host: https://us.posthog.com or https://eu.posthog.com",
    )
    billing_anchor_day: int | None = Field(
        default=None,
        ge=1,
        le=31,
        description="day of the month (UTC) the billing period starts; default: the "
        "catalogue's (the 1st); the collector logs the right day when the API disagrees",
    )
