"""Pydantic models of the Atlas Admin API v2 payloads the collector reads."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = [
    "AccessToken",
    "ApiError",
    "DataPoint",
    "Measurement",
    "Measurements",
    "Process",
    "ProcessPage",
]


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Process(_Loose):
    """An element of GET /groups/{groupId}/processes."""

    id: str
    type_name: str = Field(alias="typeName")
    replica_set_name: str | None = Field(default=None, alias="replicaSetName")


class ProcessPage(_Loose):
    """GET /groups/{groupId}/processes (one page)."""

    results: list[Process]
    total_count: int | None = Field(default=None, alias="totalCount")


class DataPoint(_Loose):
    """One point of a measurement; `value` is null where Atlas has no sample (yet)."""

    timestamp: AwareDatetime
    value: float | None = None


class Measurement(_Loose):
    """One named series."""

    name: str
    units: str = ""
    data_points: list[DataPoint] = Field(alias="dataPoints")


class Measurements(_Loose):
    """GET /groups/{groupId}/processes/{processId}/measurements."""

    measurements: list[Measurement]


class AccessToken(_Loose):
    """POST /api/oauth/token (client_credentials)."""

    access_token: str
    expires_in: float | None = None


class ApiError(_Loose):
    """Atlas's error body: {detail, error, errorCode, reason}."""

    detail: str = ""
    error_code: str = Field(default="", alias="errorCode")
