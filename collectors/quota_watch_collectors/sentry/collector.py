"""The sentry collector: errors, spans or transactions, replays and attachments accepted this
billing month, from the organization's stats_v2 outcome totals."""

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
    UnexpectedResponse,
)
from quota_watch_collectors.sentry.client import SentryApi
from quota_watch_collectors.sentry.models import FIELD, Stats
from quota_watch_collectors.sentry.options import SentryOptions

__all__ = ["SentryCollector"]

log = logging.getLogger(__name__)

# limit -> Sentry data category (as in stats_v2's `category` dimension).
_EVENT_CATEGORIES = {
    "errors": "error",
    "spans": "span",
    "transactions": "transaction",
    "replays": "replay",
}
_ATTACHMENTS = ("attachments", "attachment")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _accepted(stats: Stats, category: str, where: str) -> float | None:
    """Accepted quantity of `category` in the answer, or None when no group names it."""
    total: float | None = None
    for group in stats.groups:
        if group.by.get("outcome", "accepted") != "accepted":
            continue
        if group.by.get("category") != category:
            continue
        if FIELD not in group.totals:
            raise UnexpectedResponse(
                f"{where}: group {category!r} has no totals[{FIELD!r}] (the payload changed)"
            )
        total = (total or 0.0) + group.totals[FIELD]
    return total


class SentryCollector(CollectorBase):
    """One Sentry organization: accepted events per category over its usage month."""

    name: ClassVar[str] = "sentry"
    Options: ClassVar[type[BaseModel]] = SentryOptions

    options: SentryOptions

    def period_anchors(self) -> Mapping[str, int]:
        """Every billing-cycle limit on `billing_anchor_day`, when it is set."""
        return self.billing_cycle_anchors(self.options.billing_anchor_day)

    async def probe(self) -> None:
        """The token may read the organization's stats (one small stats_v2 call)."""
        api = SentryApi(self.client, self.options, now=datetime.now(UTC))
        await api.stats(
            {"field": FIELD, "groupBy": ["outcome"], "statsPeriod": "1h", "interval": "1h"}
        )

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """One poll: two stats_v2 calls (events, then attachments, which Sentry asks apart)."""
        api = SentryApi(
            self.client, self.options, now=ctx.now, report_rate_limit=ctx.report_rate_limit
        )
        start = ctx.period("errors").start
        if start is None:
            raise UnexpectedResponse("sentry: the errors limit has no period start")
        window: dict[str, str | list[str]] = {
            "field": FIELD,
            "groupBy": ["category", "outcome"],
            "outcome": "accepted",
            "start": _iso(start),
            "end": _iso(ctx.now),
            "interval": "1d",
        }
        tracing = self.options.tracing
        wanted = {k: v for k, v in _EVENT_CATEGORIES.items() if k in ("errors", "replays", tracing)}
        where = f"GET /organizations/{self.options.organization}/stats_v2/"
        # Attachments may not share a request filtered by category; the event request is not
        # filtered (grouped by category instead), so one request per kind suffices.
        events = await api.stats(window)
        attachments = await api.stats({**window, "category": _ATTACHMENTS[1]})
        for stats in (events, attachments):
            if stats.groups and not any("category" in group.by for group in stats.groups):
                raise UnexpectedResponse(
                    f"{where}: no group names its category (the payload changed)"
                )
        found = {limit: _accepted(events, category, where) for limit, category in wanted.items()}
        found[_ATTACHMENTS[0]] = _accepted(attachments, _ATTACHMENTS[1], where)
        if not events.groups and not attachments.groups and not self.options.absent_is_zero:
            raise NoData(
                f"sentry organization {self.options.organization!r}: stats_v2 returned no "
                "accepted outcomes since "
                f"{_iso(start)} (a new organization, or set absent_is_zero = true)"
            )
        readings: list[Reading] = []
        for limit, value in found.items():
            if value is None and self.options.absent_is_zero:
                value = 0.0
            if value is None:
                log.info(
                    "sentry organization %r: no accepted %s group since %s; %s left out as "
                    "unknown (absent_is_zero = true reads it as 0)",
                    self.options.organization,
                    limit,
                    _iso(start),
                    limit,
                )
                continue
            readings.append(Reading(limit, value))
        if not readings:
            raise NoData(f"sentry organization {self.options.organization!r}: nothing to report")
        return readings
