"""Options of the railway collector: the token, the workspace, the plan and the unit prices."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, SecretStr, field_validator

from quota_watch.sdk import ApiBase

__all__ = ["DEFAULT_API_URL", "PLAN_CREDIT_USD", "Prices", "RailwayOptions"]

DEFAULT_API_URL = "https://backboard.railway.com/graphql/v2"
# Usage included each billing cycle (railwayapp/docs pricing/plans, 2026-08-21).
PLAN_CREDIT_USD = {"free": 1.0, "hobby": 5.0, "pro": 20.0}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,99}$")
# A month as Railway's per-minute prices count it: 30 days.
_MINUTES_PER_MONTH = 30 * 24 * 60


class Prices(BaseModel):
    """Dollars per unit of each measurement (units [inferred]: see the README)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cpu_usage: PositiveFloat = Field(
        default=20.0 / _MINUTES_PER_MONTH,
        description="CPU_USAGE, $ per vCPU-minute ($20 per vCPU-month)",
    )
    memory_usage_gb: PositiveFloat = Field(
        default=10.0 / _MINUTES_PER_MONTH,
        description="MEMORY_USAGE_GB, $ per GB-minute ($10 per GB-month)",
    )
    network_tx_gb: PositiveFloat = Field(
        default=0.05, description="NETWORK_TX_GB, $ per GB of egress"
    )
    disk_usage_gb: PositiveFloat = Field(
        default=0.15 / _MINUTES_PER_MONTH,
        description="DISK_USAGE_GB, $ per GB-minute of volume ($0.15 per GB-month)",
    )

    def by_measurement(self) -> dict[str, float]:
        """{MetricMeasurement name: $ per unit}."""
        return {
            "CPU_USAGE": self.cpu_usage,
            "MEMORY_USAGE_GB": self.memory_usage_gb,
            "NETWORK_TX_GB": self.network_tx_gb,
            "DISK_USAGE_GB": self.disk_usage_gb,
        }


class RailwayOptions(BaseModel):
    """`[accounts.options]` of a `railway` account (one workspace)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: SecretStr = Field(
        description="account or workspace API token (Account Settings > Tokens); "
        "`token_file` in the config"
    )
    workspace_id: str = Field(description="the workspace (formerly team) id to read usage of")
    workspace_argument: Literal["teamId", "workspaceId"] = Field(
        default="teamId",
        description="name of the usage queries' workspace argument (the schema called it "
        "teamId; after the 2025 rename it may be workspaceId)",
    )
    plan: Literal["free", "hobby", "pro"] = Field(
        default="free", description="the workspace's plan: sets the included credit"
    )
    credit_usd: PositiveFloat | None = Field(
        default=None, description="included usage in dollars per cycle; default: the plan's"
    )
    billing_anchor_day: int | None = Field(
        default=None, ge=1, le=31, description="day of the month the billing cycle starts"
    )
    prices: Prices = Field(default_factory=Prices, description="$ per unit of usage")
    api_base: ApiBase = Field(
        default=DEFAULT_API_URL, description="the GraphQL endpoint's URL (tests, proxies)"
    )

    @property
    def credit(self) -> float:
        """The included usage in dollars per billing cycle."""
        return self.credit_usd if self.credit_usd is not None else PLAN_CREDIT_USD[self.plan]

    @field_validator("workspace_id")
    @classmethod
    def _check_workspace(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"{value!r} is not a Railway workspace id (letters, digits, '-')")
        return value
