"""Pydantic models of the Vercel payloads the collector reads: FOCUS charge rows, error bodies."""

from __future__ import annotations

import math
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

__all__ = ["ErrorBody", "ErrorDetail", "FocusCharge"]


class FocusCharge(BaseModel):
    """One line of GET /v1/billing/charges: a FOCUS v1.3 charge (only the fields used here).

    Field names as in the Vercel CLI's copy of the API types (packages/cli/src/util/billing/
    focus-charge.ts). ConsumedQuantity and ConsumedUnit must be present but may be null: FOCUS
    leaves them null on rows that are not usage (purchases, taxes, credits).
    """

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    service_name: str = Field(alias="ServiceName")
    charge_category: str = Field(alias="ChargeCategory")
    consumed_quantity: float | None = Field(alias="ConsumedQuantity")
    consumed_unit: str | None = Field(alias="ConsumedUnit")
    charge_period_start: AwareDatetime = Field(alias="ChargePeriodStart")
    charge_period_end: AwareDatetime = Field(alias="ChargePeriodEnd")

    @field_validator("consumed_quantity")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @property
    def is_usage(self) -> bool:
        """Whether the row counts consumption (FOCUS ChargeCategory "Usage")."""
        return self.charge_category.casefold() == "usage"

    @property
    def period(self) -> tuple[datetime, datetime]:
        """[ChargePeriodStart, ChargePeriodEnd) of the row."""
        return self.charge_period_start, self.charge_period_end


class ErrorDetail(BaseModel):
    """The `error` object of a Vercel API error body (only `code` is read; it is an identifier)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    code: str | None = None


class ErrorBody(BaseModel):
    """A Vercel API error body: {"error": {"code": "...", "message": "..."}}."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    error: ErrorDetail
