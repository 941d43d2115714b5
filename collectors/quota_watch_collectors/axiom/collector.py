"""The axiom collector: bytes loaded this billing period against the license (from the
X-IngestLimit-* headers), and datasets and monitors against the license's maximums."""

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
from quota_watch_collectors.axiom.client import AxiomApi
from quota_watch_collectors.axiom.models import IngestLimit, License
from quota_watch_collectors.axiom.options import AxiomOptions

__all__ = ["AxiomCollector"]

log = logging.getLogger(__name__)


class AxiomCollector(CollectorBase):
    """One Axiom organization on its license."""

    name: ClassVar[str] = "axiom"
    Options: ClassVar[type[BaseModel]] = AxiomOptions

    options: AxiomOptions

    def period_anchors(self) -> Mapping[str, int]:
        """Every billing-cycle limit on `billing_anchor_day`, when it is set."""
        return self.billing_cycle_anchors(self.options.billing_anchor_day)

    async def probe(self) -> None:
        """The token may read the organization (GET /v2/orgs/{id})."""
        api = AxiomApi(self.client, self.options, now=datetime.now(UTC))
        await api.organization(self.options.org_id)

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """One poll: the org's license, the counts, and the ingest headers."""
        api = AxiomApi(
            self.client, self.options, now=ctx.now, report_rate_limit=ctx.report_rate_limit
        )
        org = await api.organization(self.options.org_id)
        license_ = org.license
        readings: list[Reading] = []
        if self.options.count_resources:
            datasets = await api.count("/v2/datasets")
            monitors = await api.count("/v2/monitors")
            readings.append(Reading("datasets", float(datasets), cap=license_.maxDatasets))
            readings.append(Reading("monitors", float(monitors), cap=license_.maxMonitors))
        seen: IngestLimit | None
        if self.options.probe_dataset is not None:
            seen = await api.probe_ingest(self.options.probe_dataset)
        else:
            seen = api.seen_ingest_limit
        current = _current_start(license_, ctx.now)
        ingest = self._ingest(seen, license_, current)
        if ingest is not None:
            readings.append(ingest)
            self._check_anchor(ctx, current)
        if not readings:
            raise NoData(
                f"axiom org {self.options.org_id!r}: no answer carried X-IngestLimit-* headers "
                "and count_resources is off: set probe_dataset to measure ingest"
            )
        return readings

    def _ingest(
        self, seen: IngestLimit | None, license_: License, start: datetime | None
    ) -> Reading | None:
        if seen is None:
            log.info(
                "axiom org %r: no X-IngestLimit-* headers seen; ingest left out as unknown "
                "(set probe_dataset to a dataset the token may ingest into)",
                self.options.org_id,
            )
            return None
        if seen.remaining > seen.limit:
            raise UnexpectedResponse(
                "axiom: X-IngestLimit-Remaining is larger than X-IngestLimit-Limit "
                "(the headers changed meaning)"
            )
        licensed = license_.monthlyIngestGb * 1e9
        if seen.limit != licensed:
            log.debug(
                "axiom org %r: X-IngestLimit-Limit %.0f bytes, license %.0f bytes; the header wins",
                self.options.org_id,
                seen.limit,
                licensed,
            )
        return Reading(
            "ingest",
            seen.limit - seen.remaining,
            cap=seen.limit,
            period_start=start,
        )

    def _check_anchor(self, ctx: CollectContext, start: datetime | None) -> None:
        period = ctx.periods.get("ingest")
        if start is None or period is None or period.start is None or start == period.start:
            return
        day = start.astimezone(UTC).day
        log.warning(
            "axiom org %r: the license's billing period started %s, the configured one %s: "
            "set billing_anchor_day = %d in the account's options",
            self.options.org_id,
            start.isoformat(),
            period.start.isoformat(),
            day,
        )


def _current_start(license_: License, now: datetime) -> datetime | None:
    """The license's billing-period start, unless the license says that period has ended
    (a license not yet refreshed: the live headers still count, the stated start does not)."""
    end = license_.billingPeriodEnd
    if end is not None and end <= now:
        log.info("axiom: the license's billing period ended %s; its start is not used", end)
        return None
    return license_.billingPeriodStart
