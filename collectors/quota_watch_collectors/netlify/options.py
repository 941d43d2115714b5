"""Options of the netlify collector: the token, the team, the API root and the guarded switches."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from quota_watch.sdk import ApiBase

__all__ = ["DEFAULT_API_BASE", "NetlifyOptions"]

DEFAULT_API_BASE = "https://api.netlify.com/api/v1"
# Team slugs are URL path segments: no slash, no query or fragment characters.
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class NetlifyOptions(BaseModel):
    """`[accounts.options]` of a `netlify` account (one Netlify team)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: SecretStr = Field(description="personal access token (User settings > Applications)")
    account_slug: str = Field(
        description="the team's slug (Team settings > General > Team details), as in "
        "app.netlify.com/teams/<slug>"
    )
    api_base: ApiBase = Field(default=DEFAULT_API_BASE, description="API root (tests, proxies)")
    bandwidth_endpoint: bool = Field(
        default=True,
        description="read bandwidth from the undocumented /accounts/{slug}/bandwidth endpoint "
        "(the only bandwidth source; a 404 from it leaves bandwidth out, not the whole poll)",
    )
    plan: Literal["auto", "legacy", "credits"] = Field(
        default="auto",
        description="plan generation: 'auto' reads it from the team (capabilities.credits "
        "present = credit-based), 'legacy' (Starter: bandwidth + build minutes) or 'credits'",
    )
    billing_anchor_day: int | None = Field(
        default=None,
        ge=1,
        le=31,
        description="day of the month (Pacific time) the team's billing cycle starts; default: "
        "the catalogue's (the 1st). The collector logs the right day when the API disagrees",
    )
    max_pages: int = Field(
        default=20, ge=1, le=1000, description="most pages of /accounts followed per poll"
    )

    @field_validator("account_slug")
    @classmethod
    def _check_slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError(
                f"{value!r} is not a Netlify team slug (letters, digits, '.', '_', '-')"
            )
        return value
