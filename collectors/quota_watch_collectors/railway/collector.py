"""The railway collector: this cycle's usage and its end-of-cycle estimate, in dollars."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from pydantic import BaseModel

from quota_watch.sdk import (
    CollectContext,
    CollectorBase,
    LimitSpec,
    NoData,
    Reading,
)
from quota_watch_collectors.railway.client import MEASUREMENTS, RailwayApi
from quota_watch_collectors.railway.options import RailwayOptions

__all__ = ["RailwayCollector", "dollars"]

log = logging.getLogger(__name__)


def dollars(values: Mapping[str, float], prices: Mapping[str, float]) -> float:
    """The cost of `values` ({measurement: amount}) at `prices` ($ per unit)."""
    return sum(amount * prices[name] for name, amount in values.items() if name in prices)


class RailwayCollector(CollectorBase):
    """One Railway workspace: usage cost so far and the estimated cost at cycle end."""

    name: ClassVar[str] = "railway"
    Options: ClassVar[type[BaseModel]] = RailwayOptions

    options: RailwayOptions

    def declared_limits(self) -> dict[str, LimitSpec] | None:
        """The catalogue with the configured plan's credit as the cap (None on Free as is)."""
        credit = self.options.credit
        if self.options.plan == "free" and self.options.credit_usd is None:
            return None
        return {
            name: spec.model_copy(update={"cap": credit}) for name, spec in self.catalogue.items()
        }

    def period_anchors(self) -> Mapping[str, int]:
        """Every billing-cycle limit on `billing_anchor_day`, when it is set."""
        return self.billing_cycle_anchors(self.options.billing_anchor_day)

    async def probe(self) -> None:
        """The token reads the workspace's usage (the last hour)."""
        now = datetime.now(UTC)
        await RailwayApi(self.client, self.options, now=now).usage(now - timedelta(hours=1), now)

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """One poll: one GraphQL request with both queries."""
        api = RailwayApi(
            self.client, self.options, now=ctx.now, report_rate_limit=ctx.report_rate_limit
        )
        start = ctx.period("usage_cost").start
        if start is None:  # a billing cycle always starts somewhere; guard the type
            raise NoData("railway: the usage_cost period has no start")
        data = await api.usage(start, ctx.now)
        prices = self.options.prices.by_measurement()
        used = {item.measurement: item.value for item in data.usage}
        estimated = {item.measurement: item.estimated_value for item in data.estimated_usage}
        readings: list[Reading] = []
        for limit, values in (("usage_cost", used), ("estimated_cost", estimated)):
            if not values:
                log.warning(
                    "railway workspace %s: the API returned no %s measurement; %s left out as "
                    "unknown",
                    self.options.workspace_id,
                    "usage" if limit == "usage_cost" else "estimatedUsage",
                    limit,
                )
                continue
            absent = [name for name in MEASUREMENTS if name not in values]
            if absent:
                log.info(
                    "railway workspace %s: %s has no %s (counted as no usage of it)",
                    self.options.workspace_id,
                    limit,
                    ", ".join(absent),
                )
            period_start = start if limit == "usage_cost" else None
            readings.append(Reading(limit, dollars(values, prices), period_start=period_start))
        if not readings:
            raise NoData(f"railway workspace {self.options.workspace_id}: no usage reported")
        return readings
