"""The neon collector: per project, this period's compute and active time, egress and storage."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import ClassVar

from pydantic import BaseModel

from quota_watch.sdk import CollectContext, CollectorBase, NoData, Reading
from quota_watch_collectors.neon.client import NeonApi
from quota_watch_collectors.neon.models import BranchList, Project
from quota_watch_collectors.neon.options import NeonOptions

__all__ = ["NeonCollector"]

log = logging.getLogger(__name__)


def _cap(value: float | None) -> float | None:
    """A quota the project carries, or None (catalogue cap) when unset: Neon reports 0 then."""
    return value if value is not None and value > 0 else None


class NeonCollector(CollectorBase):
    """One Neon account or organization: every project it can read (or those configured)."""

    name: ClassVar[str] = "neon"
    Options: ClassVar[type[BaseModel]] = NeonOptions

    options: NeonOptions

    async def probe(self) -> None:
        """The key reads the projects: the listing, or the first configured project."""
        api = NeonApi(self.client, self.options, now=datetime.now(UTC))
        if self.options.project_ids:
            await api.project(self.options.project_ids[0])
        else:
            await api.project_ids()

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """One poll: each project's counters and its branches' logical size."""
        api = NeonApi(
            self.client, self.options, now=ctx.now, report_rate_limit=ctx.report_rate_limit
        )
        ids = list(self.options.project_ids) or await api.project_ids()
        if not ids:
            raise NoData("neon: the API key sees no project (set org_id for an organization's)")
        readings: list[Reading] = []
        for project_id in ids:
            project = await api.project(project_id)
            branches = await api.branches(project_id)
            readings.extend(self._project_readings(project, branches))
        if not readings:
            raise NoData("neon: no project reports consumption figures (see the log)")
        return readings

    def _project_readings(self, project: Project, branches: BranchList) -> list[Reading]:
        quota = project.settings.quota if project.settings is not None else None
        start = project.consumption_period_start
        counters: list[tuple[str, float | None, float | None]] = [
            (
                "compute_time",
                project.compute_time_seconds,
                quota.compute_time_seconds if quota else None,
            ),
            (
                "active_time",
                project.active_time_seconds,
                quota.active_time_seconds if quota else None,
            ),
            (
                "data_transfer",
                project.data_transfer_bytes,
                quota.data_transfer_bytes if quota else None,
            ),
        ]
        readings: list[Reading] = []
        missing: list[str] = []
        for limit, value, cap in counters:
            if value is None:
                missing.append(limit)
                continue
            readings.append(
                Reading(limit, value, resource=project.id, cap=_cap(cap), period_start=start)
            )
        sizes = [b.logical_size for b in branches.branches]
        if any(size is None for size in sizes):
            # A branch without a size (still being computed) would make the sum too small.
            missing.append("storage (a branch has no logical_size)")
        else:
            total = sum(size for size in sizes if size is not None)
            cap = quota.logical_size_bytes if quota else None
            readings.append(Reading("storage", total, resource=project.id, cap=_cap(cap)))
        if missing:
            log.warning(
                "neon project %r: the API gave no %s; left out as unknown",
                project.id,
                ", ".join(missing),
            )
        return readings
