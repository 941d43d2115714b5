"""Options of the upstash collector: account e-mail, Management API key, what to read."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from quota_watch.sdk import ApiBase

__all__ = ["DEFAULT_API_BASE", "UpstashOptions"]

DEFAULT_API_BASE = "https://api.upstash.com"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class UpstashOptions(BaseModel):
    """`[accounts.options]` of an `upstash` account."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    email: str = Field(description="the Upstash account's e-mail (the basic-auth user name)")
    token: SecretStr = Field(
        description="Management API key (Console > Account > Management API); `token_file` "
        "in the config"
    )
    api_base: ApiBase = Field(
        default=DEFAULT_API_BASE, description="root of the Developer API (without /v2)"
    )
    database_ids: tuple[str, ...] | None = Field(
        default=None,
        description="report only these Redis databases (any plan); default: every database "
        "of type free",
    )
    redis: bool = Field(default=True, description="read the Redis databases")
    qstash: bool = Field(default=True, description="read QStash (messages per day)")
    request_limit_is_monthly_cap: bool = Field(
        default=False,
        description="use a free database's db_request_limit as the cap of its monthly "
        "commands (unconfirmed meaning; default: the catalogue's 500k)",
    )

    @field_validator("email")
    @classmethod
    def _check_email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError("not an e-mail address")
        return value

    @field_validator("database_ids")
    @classmethod
    def _check_ids(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("list at least one database id, or leave database_ids out")
        for item in value:
            if not _ID.match(item):
                raise ValueError(f"{item!r} is not a database id")
        if len(set(value)) != len(value):
            raise ValueError("a database id is listed twice")
        return value
