"""Organization usage from the dashboard's /platform endpoints: egress, MAU, realtime, storage."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import quote

from quota_watch.sdk import CollectContext, LimitSpec, Period, PeriodKind, Reading
from quota_watch_collectors.supabase.client import EndpointGone, Refused, SupabaseApi, validate
from quota_watch_collectors.supabase.models import OrgUsageItem, OrgUsageResponse, Subscription

__all__ = ["ORG_USAGE_METRICS", "PERMISSION_PLATFORM", "org_usage"]

# The collector's logger: its records keep the name they had before this module split off.
log = logging.getLogger("quota_watch_collectors.supabase.collector")

# The dashboard endpoint reports sizes in GB; taken as 10^9 bytes (see README, "Unconfirmed").
GB = 1e9
ORG_USAGE_METRICS: dict[str, tuple[str, float]] = {
    "EGRESS": ("egress", GB),
    "CACHED_EGRESS": ("cached_egress", GB),
    "STORAGE_SIZE": ("storage_size", GB),
    "MONTHLY_ACTIVE_USERS": ("monthly_active_users", 1.0),
    "FUNCTION_INVOCATIONS": ("function_invocations", 1.0),
    "REALTIME_MESSAGE_COUNT": ("realtime_messages", 1.0),
    "REALTIME_PEAK_CONNECTIONS": ("realtime_peak_connections", 1.0),
}
PERMISSION_PLATFORM = "a dashboard session (the /platform endpoints may refuse access tokens)"


def _seg(text: str) -> str:
    return quote(text, safe="")


async def org_usage(
    api: SupabaseApi, slug: str, ctx: CollectContext, limits: Mapping[str, LimitSpec]
) -> list[Reading]:
    """Readings from the dashboard's usage endpoint (none when it refuses or is gone).

    `limits` is the catalogue: a reading of a limit without a billing-cycle period names no
    period start."""
    path = f"/platform/organizations/{_seg(slug)}/usage"
    try:
        data = await api.get(path, permission=PERMISSION_PLATFORM)
    except (Refused, EndpointGone) as exc:
        log.warning(
            "supabase organization %s: GET %s answered HTTP %d; falling back to the "
            "documented endpoints (egress, MAU and realtime unknown)",
            slug,
            path,
            exc.status,
        )
        return []
    usage = validate(OrgUsageResponse, data, f"GET {path}")
    cycle = await _cycle(api, slug, ctx)
    readings: list[Reading] = []
    for item in usage.usages:
        mapped = ORG_USAGE_METRICS.get(item.metric)
        if mapped is None:
            continue
        limit, factor = mapped
        reading = _usage_reading(limit, factor, item, slug, cycle, limits)
        if reading is not None:
            readings.append(reading)
    provided = {reading.limit for reading in readings}
    missing = sorted({m for m, _ in ORG_USAGE_METRICS.values()} - provided)
    if missing:
        log.info("supabase organization %s: org usage has no %s", slug, ", ".join(missing))
    return readings


async def _cycle(api: SupabaseApi, slug: str, ctx: CollectContext) -> Period | None:
    """The current billing period (start and end) from the subscription endpoint, when it
    answers."""
    path = f"/platform/organizations/{_seg(slug)}/billing/subscription"
    try:
        data = await api.get(path, permission=PERMISSION_PLATFORM)
    except (Refused, EndpointGone) as exc:
        log.info(
            "supabase organization %s: no billing period from the API (GET %s: HTTP %d)",
            slug,
            path,
            exc.status,
        )
        return None
    subscription = validate(Subscription, data, f"GET {path}")
    start, end = subscription.current_period_start, subscription.current_period_end
    if end <= start:
        log.warning(
            "supabase organization %s: GET %s: current_period_end is not after "
            "current_period_start; billing period left to the configuration",
            slug,
            path,
        )
        return None
    expected = ctx.period("function_invocations").start
    if expected is not None and start.day != expected.day:
        # The org-usage readings carry this cycle; the anchor still shapes the cycle over
        # which invocations are counted from the logs.
        log.info(
            "supabase organization %s: its billing cycle starts on day %d of the month, "
            "not %d: the readings carry the API's cycle (billing_anchor_day = %d would make "
            "the configured one agree)",
            slug,
            start.day,
            expected.day,
            start.day,
        )
    return Period(start, end)


def _usage_reading(
    limit: str,
    factor: float,
    item: OrgUsageItem,
    slug: str,
    cycle: Period | None,
    limits: Mapping[str, LimitSpec],
) -> Reading | None:
    if item.usage is None or not item.available_in_plan:
        return None
    cap = None
    if not item.unlimited and item.pricing_free_units is not None:
        cap = item.pricing_free_units * factor
    if cycle is None or limits[limit].period.kind is not PeriodKind.BILLING_CYCLE:
        cycle = Period(None, None)  # a level held now, or no cycle stated: no period to name
    return Reading(
        limit,
        item.usage * factor,
        slug,
        cap=cap,
        period_start=cycle.start,
        period_end=cycle.end,
    )
