"""The turso collector: the organization's month against its plan's quotas from /plans."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import ClassVar

from pydantic import BaseModel

from quota_watch.sdk import CollectContext, CollectorBase, Reading
from quota_watch_collectors.turso.client import TursoApi
from quota_watch_collectors.turso.models import Quotas, Usage
from quota_watch_collectors.turso.options import TursoOptions

__all__ = ["TursoCollector", "usage_readings"]

log = logging.getLogger(__name__)


def usage_readings(usage: Usage, quotas: Quotas | None) -> list[Reading]:
    """The usage figures with the plan's quotas as caps (None: the catalogue's)."""
    q = quotas or Quotas()
    readings = [
        Reading("rows_read", usage.rows_read, cap=q.rows_read),
        Reading("rows_written", usage.rows_written, cap=q.rows_written),
        Reading("storage", usage.storage_bytes, cap=q.storage),
        Reading("databases", usage.databases, cap=q.databases),
    ]
    if usage.bytes_synced is not None:
        readings.append(Reading("bytes_synced", usage.bytes_synced, cap=q.bytes_synced))
    return readings


class TursoCollector(CollectorBase):
    """Turso: rows read and written this month, storage, databases, bytes synced."""

    name: ClassVar[str] = "turso"
    Options: ClassVar[type[BaseModel]] = TursoOptions

    options: TursoOptions

    async def probe(self) -> None:
        """The subscription: proves the token and the organization."""
        await TursoApi(self.client, self.options, datetime.now(UTC)).subscription()

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """Usage, then the plan's quotas (the subscription's plan, or the `plan` option)."""
        api = TursoApi(self.client, self.options, ctx.now)
        usage = (await api.usage()).organization.usage
        name = self.options.plan or (await api.subscription()).plan_name
        plan = (await api.plans()).named(name)
        if plan is None:
            log.warning(
                "%s: plan %r is not listed by /plans; catalogue caps apply", ctx.account, name
            )
        return usage_readings(usage, None if plan is None else plan.quotas)
