"""Options of the uptimerobot collector: the API key and the API root."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from quota_watch.sdk import ApiBase

__all__ = ["DEFAULT_API_BASE", "UptimeRobotOptions"]

DEFAULT_API_BASE = "https://api.uptimerobot.com/v2"


class UptimeRobotOptions(BaseModel):
    """`[accounts.options]` of an `uptimerobot` account (one UptimeRobot account)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_key: SecretStr = Field(
        description="the read-only API key (Integrations > API); the main key works too"
    )
    api_base: ApiBase = Field(default=DEFAULT_API_BASE, description="API v2 root (tests, proxies)")
