"""Options of the uptimerobot collector: the API key and the API root."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = ["DEFAULT_API_BASE", "UptimeRobotOptions"]

DEFAULT_API_BASE = "https://api.uptimerobot.com/v2"


class UptimeRobotOptions(BaseModel):
    """`[accounts.options]` of an `uptimerobot` account (one UptimeRobot account)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_key: SecretStr = Field(
        description="the read-only API key (Integrations > API); the main key works too"
    )
    api_base: str = Field(default=DEFAULT_API_BASE, description="API v2 root (tests, proxies)")

    @field_validator("api_base")
    @classmethod
    def _check_api_base(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("api_base must be an http(s) URL with a host")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("api_base must not carry credentials, a query string or a fragment")
        return value.rstrip("/")
