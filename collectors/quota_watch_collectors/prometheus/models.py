"""The Prometheus HTTP API's query response envelope, as documented (api/v1, "Format overview")."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["QueryData", "QueryResponse", "Sample"]


class Sample(BaseModel):
    """One series of an instant vector: its labels and its [timestamp, "value"] pair."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    metric: dict[str, str]
    value: tuple[float, str]


class QueryData(BaseModel):
    """`data` of a successful query: the result's type and the raw result."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    result_type: Literal["vector", "scalar", "matrix", "string"] = Field(alias="resultType")
    result: Any


class QueryResponse(BaseModel):
    """The envelope every /api/v1 response has: a status, and data or an error."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    status: Literal["success", "error"]
    data: QueryData | None = None
    error_type: str | None = Field(default=None, alias="errorType")
    error: str | None = None
