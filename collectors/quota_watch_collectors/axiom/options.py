"""Options of the axiom collector: the token, the org, the API root and the ingest probe."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from quota_watch.sdk import ApiBase

__all__ = ["DEFAULT_API_BASE", "AxiomOptions"]

DEFAULT_API_BASE = "https://api.axiom.co"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class AxiomOptions(BaseModel):
    """`[accounts.options]` of an `axiom` account (one Axiom organization)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: SecretStr = Field(description="API token (or personal access token) of the org")
    org_id: str = Field(description="the organization's id (Settings > General), e.g. acme-ab1c")
    api_base: ApiBase = Field(default=DEFAULT_API_BASE, description="API root (tests, proxies)")
    probe_dataset: str | None = Field(
        default=None,
        description="dataset to send an empty ingest ([]) to, whose answer carries the "
        "X-IngestLimit-* headers; unset: only headers on the other answers are read",
    )
    count_resources: bool = Field(
        default=True,
        description="count datasets (GET /v2/datasets) and monitors (GET /v2/monitors) "
        "against the license",
    )
    billing_anchor_day: int | None = Field(
        default=None,
        ge=1,
        le=31,
        description="day of the month (UTC) the billing period starts; default: the "
        "catalogue's (the 1st); the license's billingPeriodStart, when sent, is logged if it "
        "disagrees",
    )

    @field_validator("org_id", "probe_dataset")
    @classmethod
    def _check_name(cls, value: str | None) -> str | None:
        if value is not None and not _NAME.match(value):
            raise ValueError(f"{value!r} is not an Axiom id (letters, digits, '.', '_', '-')")
        return value
