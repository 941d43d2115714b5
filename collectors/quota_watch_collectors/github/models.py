"""Pydantic models of the billing usage report (GET .../settings/billing/usage)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictStr

__all__ = ["ApiError", "UsageItem", "UsageReport"]


class UsageItem(BaseModel):
    """One line of the report: a day's usage of one SKU (per repository where it applies).

    Only the fields the collector reads are required; the REST reference also lists
    pricePerUnit, grossAmount, discountAmount (required) and organizationName (org reports).
    `quantity` is typed integer in the reference and float in go-github: parsed as a number.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    date: StrictStr
    product: StrictStr
    sku: StrictStr
    quantity: StrictFloat = Field(allow_inf_nan=False)
    unit_type: StrictStr = Field(alias="unitType")
    repository_name: StrictStr | None = Field(default=None, alias="repositoryName")


class UsageReport(BaseModel):
    """The whole response: `{"usageItems": [...]}`, with no pagination fields."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    usage_items: list[UsageItem] = Field(alias="usageItems")


class ApiError(BaseModel):
    """GitHub's error body: `{"message": ..., "documentation_url": ...}`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    message: StrictStr = ""
