"""Pydantic models of the Axiom payloads the collector reads (unknown fields ignored)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = ["IngestLimit", "License", "Named", "Organization"]

Count = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class License(_Payload):
    """`license` of an organization (axiom-go `License`; billing fields newer, optional)."""

    monthlyIngestGb: Count
    maxDatasets: Count | None = None
    maxMonitors: Count | None = None
    billingPeriodStart: AwareDatetime | None = None
    billingPeriodEnd: AwareDatetime | None = None


class Organization(_Payload):
    """GET /v2/orgs/{id}."""

    id: str
    plan: str | None = None
    license: License


class Named(_Payload):
    """An element of a list answer (datasets, monitors): only its presence is counted."""

    id: str | None = None
    name: str | None = None


class IngestLimit(_Payload):
    """The X-IngestLimit-* trio of an answer: bytes a month, remaining, reset (epoch s)."""

    limit: Count
    remaining: Count
    reset: Count | None = None
