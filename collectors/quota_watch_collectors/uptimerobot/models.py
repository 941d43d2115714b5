"""Pydantic models of UptimeRobot's getAccountDetails answer (unknown fields ignored)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Account", "AccountDetails", "ErrorBody"]

Count = Annotated[int, Field(ge=0)]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Account(_Payload):
    """`account`: the plan's monitor limit and shortest interval, and monitors by state."""

    monitor_limit: Count
    monitor_interval: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    up_monitors: Count
    down_monitors: Count
    paused_monitors: Count


class AccountDetails(_Payload):
    """POST /v2/getAccountDetails with stat "ok"."""

    stat: str
    account: Account


class ErrorDetail(_Payload):
    """`error` of a failed call: a type, and a message or the parameter it is about."""

    type: str = ""
    message: str = ""
    parameter_name: str = ""


class ErrorBody(_Payload):
    """A failed call: `{"stat": "fail", "error": {...}}`, sent with HTTP 200."""

    stat: str
    error: ErrorDetail | None = None
