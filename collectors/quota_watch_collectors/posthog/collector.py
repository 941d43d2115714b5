"""The posthog collector: events, session recordings and feature-flag requests this billing
period against the free allocation, from the owner-only billing endpoint."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import ClassVar

from pydantic import BaseModel

from quota_watch.sdk import (
    CollectContext,
    CollectorBase,
    NoData,
    Reading,
    parse_model,
)
from quota_watch_collectors.posthog.client import PostHogApi
from quota_watch_collectors.posthog.models import Billing, UsageSummary
from quota_watch_collectors.posthog.options import PostHogOptions

__all__ = ["PostHogCollector"]

log = logging.getLogger(__name__)

# limit -> PostHog usage key (products[].usage_key and the keys of usage_summary).
USAGE_KEYS = {
    "events": "events",
    "recordings": "recordings",
    "feature_flag_requests": "feature_flag_requests",
}


def _positive(value: float | None) -> float | None:
    return value if value is not None and value > 0 else None


class PostHogCollector(CollectorBase):
    """One PostHog organization: usage per product over its billing period."""

    name: ClassVar[str] = "posthog"
    Options: ClassVar[type[BaseModel]] = PostHogOptions

    options: PostHogOptions

    def period_anchors(self) -> Mapping[str, int]:
        """Every billing-cycle limit on `billing_anchor_day`, when it is set."""
        return self.billing_cycle_anchors(self.options.billing_anchor_day)

    async def probe(self) -> None:
        """The key may read billing (the call a poll makes)."""
        await PostHogApi(self.client, self.options, now=datetime.now(UTC)).billing()

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """One poll: GET /api/billing/."""
        billing = await PostHogApi(self.client, self.options, now=ctx.now).billing()
        period = billing.billing_period
        if period is not None and period.current_period_end <= ctx.now:
            raise NoData(
                "posthog: GET /api/billing/ still reports the billing period that ended "
                f"{period.current_period_end.isoformat()} (cached by PostHog's billing "
                "service); usage left out until the new period appears"
            )
        start = period.current_period_start if period is not None else None
        readings: list[Reading] = []
        unknown: list[str] = []
        for limit, key in USAGE_KEYS.items():
            reading = self._reading(billing, limit, key, start)
            if reading is None:
                unknown.append(key)
            else:
                readings.append(reading)
        if unknown:
            log.info("posthog: no usage reported for %s; left out as unknown", ", ".join(unknown))
        if not readings:
            raise NoData(
                "posthog: GET /api/billing/ reported no usage for events, recordings or "
                "feature-flag requests (self-hosted, or the billing service has no products)"
            )
        self._check_anchor(ctx, start)
        return readings

    @staticmethod
    def _reading(billing: Billing, limit: str, key: str, start: datetime | None) -> Reading | None:
        for product in billing.products or []:
            if product.usage_key == key and product.current_usage is not None:
                # The free allocation is the free-tier cap; usage_limit (a billing limit on
                # paid plans, equal to it on free) only when no allocation is stated.
                cap = _positive(product.free_allocation) or _positive(product.usage_limit)
                return Reading(limit, product.current_usage, cap=cap, period_start=start)
        raw = (billing.usage_summary or {}).get(key)
        if raw is None:
            return None
        summary = parse_model(UsageSummary, raw, f"GET /api/billing/: usage_summary.{key}")
        if summary.usage is not None:
            return Reading(limit, summary.usage, cap=_positive(summary.limit), period_start=start)
        return None

    def _check_anchor(self, ctx: CollectContext, start: datetime | None) -> None:
        period = ctx.periods.get("events")
        if start is None or period is None or period.start is None or start == period.start:
            return
        day = start.astimezone(UTC).day
        log.warning(
            "posthog: the billing period started %s, the configured one %s: set "
            "billing_anchor_day = %d in the account's options",
            start.isoformat(),
            period.start.isoformat(),
            day,
        )
