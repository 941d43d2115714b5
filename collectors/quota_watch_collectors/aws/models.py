"""Pydantic models of the Free Tier API payloads the collector reads (AWS JSON 1.0).

Field names follow botocore's service model `freetier/2023-09-07/service-2.json`. Every
member of `FreeTierUsage` is optional there; the ones the collector cannot do without are
required here, so their absence is reported as drift naming the field.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from quota_watch.sdk import describe_problems

__all__ = [
    "AwsErrorBody",
    "FreeTierUsage",
    "GetAccountPlanStateResponse",
    "GetFreeTierUsageResponse",
    "MonetaryAmount",
    "describe_validation_error",
]

# JSON numbers only (no numeric strings, no booleans), finite.
Amount = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Text = Annotated[str, Field(strict=True)]


def _timestamp(value: Any) -> Any:
    """A Smithy timestamp: ISO 8601 text (the model's `iso8601` format) or epoch seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a timestamp, got a boolean")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError("expected a finite epoch timestamp")
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError("epoch timestamp out of range") from None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError("expected an ISO 8601 timestamp") from None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return value


Timestamp = Annotated[datetime, BeforeValidator(_timestamp)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class FreeTierUsage(_Model):
    """One Free Tier offer with this month's usage (`FreeTierUsage` in the service model)."""

    service: Annotated[str, Field(strict=True, min_length=1)]
    operation: Text = ""
    usage_type: Annotated[str, Field(strict=True, min_length=1, alias="usageType")]
    region: Text = ""
    actual_usage_amount: Amount = Field(alias="actualUsageAmount")
    forecasted_usage_amount: Amount | None = Field(default=None, alias="forecastedUsageAmount")
    limit: Amount
    unit: Text
    free_tier_type: Text = Field(default="", alias="freeTierType")
    description: Text = ""


class GetFreeTierUsageResponse(_Model):
    """One page of GetFreeTierUsage (`freeTierUsages` is required in the service model)."""

    free_tier_usages: list[FreeTierUsage] = Field(alias="freeTierUsages")
    next_token: Text | None = Field(default=None, alias="nextToken")


class MonetaryAmount(_Model):
    """`MonetaryAmount`: an amount of credits and its currency (the model's enum: USD)."""

    amount: Amount
    unit: Text


class GetAccountPlanStateResponse(_Model):
    """GetAccountPlanState: the account's free/paid plan, its credits and its expiry."""

    account_id: Text | None = Field(default=None, alias="accountId")
    account_plan_type: Text = Field(alias="accountPlanType")
    account_plan_status: Text = Field(alias="accountPlanStatus")
    remaining_credits: MonetaryAmount | None = Field(
        default=None, alias="accountPlanRemainingCredits"
    )
    expiration_date: Timestamp | None = Field(default=None, alias="accountPlanExpirationDate")


class AwsErrorBody(_Model):
    """An AWS JSON 1.0 error body: `__type` (maybe namespaced) and `message`/`Message`."""

    type: str | None = Field(default=None, alias="__type")
    code: str | None = None
    message: str | None = None
    message_upper: str | None = Field(default=None, alias="Message")

    @property
    def error_code(self) -> str | None:
        """The bare error code: "com.amazonaws.freetier#ThrottlingException" -> "Throttling..."."""
        raw = self.type or self.code
        if not raw:
            return None
        return raw.split(":", 1)[0].rsplit("#", 1)[-1] or None

    @property
    def text(self) -> str:
        """The error message, whichever key carried it."""
        return self.message or self.message_upper or ""


def describe_validation_error(exc: ValidationError, root: str = "") -> str:
    """The first few problems as "field.path: message" (the SDK's one format), no input values."""
    return describe_problems(exc, root)
