"""Options of the posthog collector: the personal API key, the host and the billing day."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = ["DEFAULT_API_BASE", "PostHogOptions"]

DEFAULT_API_BASE = "https://us.posthog.com"


class PostHogOptions(BaseModel):
    """`[accounts.options]` of a `posthog` account (one PostHog organization)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: SecretStr = Field(
        description="personal API key (phx_...) with billing:read, of an organization owner"
    )
    api_base: str = Field(
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

    @field_validator("api_base")
    @classmethod
    def _check_api_base(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("api_base must be an http(s) URL with a host")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("api_base must not carry credentials, a query string or a fragment")
        return value.rstrip("/")
