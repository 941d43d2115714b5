"""Pydantic models of the Sentry stats_v2 answer the collector reads (unknown fields ignored)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FIELD", "Group", "Stats"]

FIELD = "sum(quantity)"
"""The field requested; Sentry keys totals and series by this literal expression."""

Quantity = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Group(_Payload):
    """One group: the dimensions it is grouped by and its totals keyed by the field string."""

    by: dict[str, str | int]
    totals: dict[str, Quantity]


class Stats(_Payload):
    """GET /organizations/{org}/stats_v2/: groups of outcome counts over the asked window."""

    start: str
    end: str
    intervals: list[str]
    groups: list[Group]
