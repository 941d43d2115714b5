"""Options of the turso collector: the platform API token, the organization, the plan."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from quota_watch.sdk import ApiBase

__all__ = ["DEFAULT_API_BASE", "TursoOptions"]

DEFAULT_API_BASE = "https://api.turso.tech"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class TursoOptions(BaseModel):
    """`[accounts.options]` of a `turso` account."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: SecretStr = Field(
        description="Platform API token (`turso auth api-tokens mint`), not a database token; "
        "`token_file` in the config"
    )
    organization: str = Field(description="the organization's slug (`turso org list`)")
    api_base: ApiBase = Field(default=DEFAULT_API_BASE, description="root of the Platform API")
    plan: str | None = Field(
        default=None,
        description="whose quotas to compare against (a plan name of /plans); default: the "
        "organization's subscription",
    )

    @field_validator("organization")
    @classmethod
    def _check_slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError(f"{value!r} is not an organization slug (lowercase, digits, - _)")
        return value
