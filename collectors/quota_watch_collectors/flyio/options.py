"""Options of the flyio collector: the token, the organization, the allowance to compare with."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from quota_watch.sdk import ApiBase

__all__ = ["DEFAULT_API_BASE", "FlyioOptions"]

DEFAULT_API_BASE = "https://api.machines.dev"
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class FlyioOptions(BaseModel):
    """`[accounts.options]` of a `flyio` account (one Fly.io organization)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: SecretStr = Field(
        description="Fly.io API token (`fly tokens create readonly`); `token_file` in the config"
    )
    org_slug: str = Field(default="personal", description="the organization whose apps to count")
    apps: tuple[str, ...] = Field(
        default=(), description="count only these apps (no listing); default: every app"
    )
    allowance: Literal["trial", "legacy_hobby", "none"] = Field(
        default="trial",
        description="what to compare with: 'trial' (the new-organization trial: 10 machines, "
        "20 GB of volumes), 'legacy_hobby' (pre-2024 allowances: 3 running shared VMs, 3 GB of "
        "volumes) or 'none' (counts only)",
    )
    api_base: ApiBase = Field(default=DEFAULT_API_BASE, description="Machines API root (tests)")

    @field_validator("org_slug")
    @classmethod
    def _check_org(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"{value!r} is not a Fly.io organization slug")
        return value

    @field_validator("apps")
    @classmethod
    def _check_apps(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not _NAME.match(name):
                raise ValueError(f"{name!r} is not a Fly.io app name (a-z, 0-9, '-')")
        return value
