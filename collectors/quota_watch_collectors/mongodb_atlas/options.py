"""Options of the mongodb_atlas collector: Digest API key or service account, the project."""

from __future__ import annotations

import re
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from quota_watch.sdk import ApiBase

__all__ = ["DEFAULT_API_BASE", "MongodbAtlasOptions"]

DEFAULT_API_BASE = "https://cloud.mongodb.com"
_GROUP = re.compile(r"^[0-9a-f]{24}$")
# ISO 8601 durations Atlas accepts for granularity and period ("PT1H", "P1D", "PT5M").
_DURATION = re.compile(r"^P(?:\d+D)?(?:T(?:\d+H)?(?:\d+M)?)?$")


class MongodbAtlasOptions(BaseModel):
    """`[accounts.options]` of a `mongodb_atlas` account (one Atlas project)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    group_id: str = Field(description="the Atlas project id (24 hex digits; Project Settings)")
    public_key: str | None = Field(
        default=None, description="programmatic API key's public key (HTTP Digest user)"
    )
    private_key: SecretStr | None = Field(
        default=None, description="programmatic API key's private key (HTTP Digest password)"
    )
    client_id: str | None = Field(default=None, description="service account client id")
    client_secret: SecretStr | None = Field(
        default=None, description="service account client secret (OAuth client_credentials)"
    )
    processes: tuple[str, ...] = Field(
        default=(),
        description="read only these processes ('host:port'); default: every REPLICA_PRIMARY",
    )
    granularity: str = Field(default="PT1H", description="measurement granularity (ISO 8601)")
    period: str = Field(default="P1D", description="measurement window back from now (ISO 8601)")
    api_base: ApiBase = Field(default=DEFAULT_API_BASE, description="Atlas root (tests, proxies)")
    items_per_page: int = Field(default=500, ge=1, le=500, description="processes per page")
    max_pages: int = Field(default=10, ge=1, le=1000, description="most process pages read")

    @field_validator("group_id")
    @classmethod
    def _check_group(cls, value: str) -> str:
        if not _GROUP.match(value):
            raise ValueError(f"{value!r} is not an Atlas project id (24 lowercase hex digits)")
        return value

    @field_validator("granularity", "period")
    @classmethod
    def _check_duration(cls, value: str) -> str:
        if value in ("P", "PT") or not _DURATION.match(value):
            raise ValueError(f"{value!r} is not an ISO 8601 duration such as PT1H or P1D")
        return value

    @field_validator("processes")
    @classmethod
    def _check_processes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            host, _, port = item.rpartition(":")
            if not host or not port.isdigit() or "/" in host:
                raise ValueError(f"{item!r} is not a process id of the form host:port")
        return value

    @model_validator(mode="after")
    def _one_credential(self) -> Self:
        digest = (self.public_key is not None, self.private_key is not None)
        service = (self.client_id is not None, self.client_secret is not None)
        if digest == (True, True) and service == (False, False):
            return self
        if service == (True, True) and digest == (False, False):
            return self
        raise ValueError(
            "set either public_key and private_key (API key, HTTP Digest) or client_id and "
            "client_secret (service account), not both and not half of one"
        )
