"""Pydantic models of PostHog's GET /api/billing/ answer (unknown fields ignored)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = ["Billing", "BillingPeriod", "Product", "UsageSummary"]

Amount = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class BillingPeriod(_Payload):
    """`billing_period`: the window usage is counted over (monthly, on the org's own day)."""

    current_period_start: AwareDatetime
    current_period_end: AwareDatetime
    interval: str | None = None


class Product(_Payload):
    """An element of `products` (`BillingProductV2Type`)."""

    type: str | None = None
    usage_key: str | None = None
    current_usage: Amount | None = None
    free_allocation: Amount | None = None
    usage_limit: Amount | None = None
    has_exceeded_limit: bool | None = None


class UsageSummary(_Payload):
    """A value of `usage_summary` (the organization's `usage` JSON): usage and quota limit."""

    usage: Amount | None = None
    limit: Amount | None = None


class Billing(_Payload):
    """GET /api/billing/."""

    subscription_level: str | None = None
    billing_period: BillingPeriod | None = None
    products: list[Product] | None = None
    # Values vary by key ("period" is a list); each wanted key is validated on its own.
    usage_summary: dict[str, Any] | None = None
