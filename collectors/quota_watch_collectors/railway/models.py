"""Pydantic models of the Railway GraphQL answers the collector reads."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AggregatedUsage", "EstimatedUsage", "GraphqlError", "GraphqlErrors", "UsageData"]


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class AggregatedUsage(_Loose):
    """An element of `usage`: one measurement's total over the window."""

    measurement: str
    value: float


class EstimatedUsage(_Loose):
    """An element of `estimatedUsage`: the projected total at the end of the billing cycle."""

    measurement: str
    estimated_value: float = Field(alias="estimatedValue")


class UsageData(_Loose):
    """`data` of the usage query."""

    usage: list[AggregatedUsage]
    estimated_usage: list[EstimatedUsage] = Field(alias="estimatedUsage")


class GraphqlError(_Loose):
    """One element of a GraphQL `errors` array."""

    message: str = ""


class GraphqlErrors(_Loose):
    """A GraphQL answer's `errors` (under any status)."""

    errors: list[GraphqlError] = Field(default_factory=list)
