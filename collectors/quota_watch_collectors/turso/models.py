"""Turso Platform API payloads (openapi.json): usage in snake_case, plan quotas in camelCase."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Plans", "Quotas", "Subscription", "Usage", "UsageResponse"]

Count = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Usage(_Model):
    """`organization.usage`: this calendar month's totals and the levels now."""

    rows_read: Count
    rows_written: Count
    databases: Count
    storage_bytes: Count
    bytes_synced: Count | None = None


class _Organization(_Model):
    usage: Usage


class UsageResponse(_Model):
    """`GET /v1/organizations/{slug}/usage`."""

    organization: _Organization


class Quotas(_Model):
    """`plans[].quotas`, camelCase; a null quota is unlimited or unstated."""

    rows_read: Count | None = Field(default=None, alias="rowsRead")
    rows_written: Count | None = Field(default=None, alias="rowsWritten")
    databases: Count | None = None
    storage: Count | None = None
    bytes_synced: Count | None = Field(default=None, alias="bytesSynced")


class Plan(_Model):
    """One entry of `/plans`."""

    name: str
    quotas: Quotas


class Plans(_Model):
    """`GET /v1/organizations/{slug}/plans`."""

    plans: list[Plan]

    def named(self, name: str) -> Plan | None:
        """The plan called `name` (case-insensitive), if listed."""
        return next((p for p in self.plans if p.name.casefold() == name.casefold()), None)


class _Subscription(_Model):
    plan: str


class Subscription(_Model):
    """`GET /v1/organizations/{slug}/subscription`: `subscription.plan` names the plan.

    The spec nests `{name, overages, plan, timeline}` under `subscription`; a third-party
    SDK reads a flat `{subscription: "<name>", plan, overages, timeline}`: both are read.
    """

    subscription: _Subscription | str
    plan: str | None = None

    @property
    def plan_name(self) -> str:
        """The name of the organization's plan."""
        if isinstance(self.subscription, _Subscription):
            return self.subscription.plan
        return self.plan or self.subscription
