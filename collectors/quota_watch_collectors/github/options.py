"""Options of the github collector: the token, which account, its plan, and how SKUs count."""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from quota_watch.sdk import ApiBase
from quota_watch_collectors.github.billing import (
    DEFAULT_MINUTE_MULTIPLIERS,
    DEFAULT_STORAGE_SKUS,
    ORG_PLANS,
    PERSONAL_PLANS,
    Plan,
    normalize_sku,
)

__all__ = ["API_VERSION", "GITHUB_API", "GitHubOptions"]

GITHUB_API = "https://api.github.com"
API_VERSION = "2022-11-28"
# GitHub logins: letters, digits and single hyphens, at most 39 characters.
_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
_REPOSITORY = re.compile(r"^(?:[A-Za-z0-9-]+/)?[A-Za-z0-9._-]+$")


class GitHubOptions(BaseModel):
    """`[accounts.options]` of a `github` account: exactly one of `user` or `org`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: SecretStr = Field(description="a personal access token (see README, Permissions)")
    user: str | None = Field(default=None, description="the personal account to report on")
    org: str | None = Field(default=None, description="the organization to report on")
    plan: Plan = Field(
        default="free",
        description="the account's plan: free or pro (personal), free, team or enterprise (org)",
    )
    api_base: ApiBase = Field(default=GITHUB_API, description="root of the REST API")
    api_version: str = Field(
        default=API_VERSION, pattern=r"^\d{4}-\d{2}-\d{2}$", description="X-GitHub-Api-Version"
    )
    minute_multipliers: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_MINUTE_MULTIPLIERS),
        description="Actions SKUs paid for by included minutes, with their minute multiplier",
    )
    storage_skus: tuple[str, ...] = Field(
        default=DEFAULT_STORAGE_SKUS,
        min_length=1,
        description="SKUs drawing on the shared Actions/Packages storage allowance",
    )
    exclude_repositories: tuple[str, ...] = Field(
        default=(), description="repositories whose usage is ignored (e.g. public ones)"
    )
    codespaces_anchor_day: int | None = Field(
        default=None,
        ge=1,
        le=31,
        description="count Codespaces in a billing cycle starting on this day, not the month",
    )

    @field_validator("token")
    @classmethod
    def _check_token(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value()
        if not secret.strip():
            raise ValueError("the token is empty")
        if any(ch.isspace() for ch in secret):
            raise ValueError("the token contains whitespace (a stray newline in token_file?)")
        return value

    @field_validator("user", "org")
    @classmethod
    def _check_login(cls, value: str | None) -> str | None:
        if value is not None and not _LOGIN.match(value):
            raise ValueError(
                f"{value!r} is not a GitHub login (letters, digits and single hyphens, "
                "at most 39 characters)"
            )
        return value

    @field_validator("minute_multipliers", mode="before")
    @classmethod
    def _normalize_multipliers(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        normalized: dict[str, Any] = {}
        for sku, multiplier in value.items():
            key = normalize_sku("actions", str(sku))
            if key in normalized:
                raise ValueError(f"SKU {sku!r} is listed twice (as {key!r})")
            normalized[key] = multiplier
        return normalized

    @field_validator("minute_multipliers")
    @classmethod
    def _check_multipliers(cls, value: dict[str, float]) -> dict[str, float]:
        for sku, multiplier in value.items():
            if not math.isfinite(multiplier) or multiplier <= 0:
                raise ValueError(f"{sku}: a minute multiplier must be a finite number > 0")
        return value

    @field_validator("storage_skus", mode="before")
    @classmethod
    def _normalize_storage_skus(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return tuple(normalize_sku("", str(sku)) for sku in value)
        return value

    @field_validator("exclude_repositories")
    @classmethod
    def _check_repositories(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not _REPOSITORY.match(name):
                raise ValueError(f"{name!r} is not a repository name ('repo' or 'owner/repo')")
        return value

    @model_validator(mode="after")
    def _check_account(self) -> GitHubOptions:
        if (self.user is None) == (self.org is None):
            raise ValueError("set exactly one of user (a personal account) or org")
        if self.user is not None and self.plan not in PERSONAL_PLANS:
            raise ValueError(
                f"plan {self.plan!r} is an organization plan; personal accounts have "
                f"{' or '.join(sorted(PERSONAL_PLANS))}"
            )
        if self.org is not None and self.plan not in ORG_PLANS:
            raise ValueError(
                f"plan {self.plan!r} is a personal plan; organizations have "
                f"{', '.join(sorted(ORG_PLANS))}"
            )
        return self

    @property
    def personal(self) -> bool:
        """True for a personal account (`user`), False for an organization."""
        return self.user is not None

    @property
    def account(self) -> str:
        """The login the usage is read for."""
        login = self.user if self.user is not None else self.org
        assert login is not None  # guaranteed by _check_account
        return login
