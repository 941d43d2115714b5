"""The upstash collector: per free Redis database and per QStash region, against the plan."""

from __future__ import annotations

import logging
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
from quota_watch_collectors.upstash.client import UpstashApi
from quota_watch_collectors.upstash.models import Database, DatabaseStats, QStashStats
from quota_watch_collectors.upstash.options import UpstashOptions

__all__ = ["UpstashCollector", "messages_today"]

log = logging.getLogger(__name__)


def messages_today(stats: QStashStats, ctx: CollectContext) -> float | None:
    """The `daily_requests` point of today (UTC), or None when the series has none."""
    today = ctx.now.date()
    found = [point.y for point in stats.daily_requests if point.x.date() == today]
    return found[-1] if found else None


def redis_readings(db: Database, stats: DatabaseStats, monthly_cap: bool) -> list[Reading]:
    """One database's readings; caps only where the API states them."""
    name = db.database_id
    request_cap = db.db_request_limit if monthly_cap and db.is_free else None
    return [
        Reading("redis_commands_monthly", stats.total_monthly_requests, name, request_cap),
        Reading("redis_commands_daily", stats.daily_net_commands, name),
        Reading("redis_data_size", stats.current_storage, name, db.db_disk_threshold),
        Reading("redis_bandwidth_monthly", stats.total_monthly_bandwidth, name),
    ]


class UpstashCollector(CollectorBase):
    """Upstash Redis (commands, data size, bandwidth) and QStash (messages per day)."""

    name: ClassVar[str] = "upstash"
    Options: ClassVar[type[BaseModel]] = UpstashOptions

    options: UpstashOptions

    async def probe(self) -> None:
        """List the databases (or the QStash users): proves the e-mail and key."""
        api = UpstashApi(self.client, self.options, datetime.now(UTC))
        if self.options.redis:
            await api.databases()
        else:
            await api.qstash_users()

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """Every chosen database's stats and every QStash user's messages today."""
        api = UpstashApi(self.client, self.options, ctx.now)
        readings: list[Reading] = []
        if self.options.redis:
            readings += await self._redis(api)
        if self.options.qstash:
            readings += await self._qstash(api, ctx)
        if not readings:
            raise NoData("neither Redis nor QStash gave a figure (both switched off?)")
        return readings

    def _chosen(self, databases: list[Database]) -> list[Database]:
        wanted = self.options.database_ids
        if wanted is None:
            skipped = [db.database_id for db in databases if not db.is_free]
            if skipped:
                log.debug("not on the free plan, not read: %s", ", ".join(skipped))
            return [db for db in databases if db.is_free]
        known = {db.database_id: db for db in databases}
        missing = [item for item in wanted if item not in known]
        if missing:
            raise UnexpectedResponse(
                f"database_ids: {', '.join(missing)} not among the account's Redis databases "
                "(check the ids and that the key belongs to the owning account or team)"
            )
        return [known[item] for item in wanted]

    async def _redis(self, api: UpstashApi) -> list[Reading]:
        databases = await api.databases()
        free = sum(1 for db in databases if db.is_free)
        readings = [Reading("redis_free_databases", float(free))]
        for db in self._chosen(databases):
            stats = await api.redis_stats(db.database_id)
            readings += redis_readings(db, stats, self.options.request_limit_is_monthly_cap)
        return readings

    async def _qstash(self, api: UpstashApi, ctx: CollectContext) -> list[Reading]:
        readings: list[Reading] = []
        for user in await api.qstash_users():
            today = messages_today(await api.qstash_stats(user.id), ctx)
            resource = user.region or user.id
            if today is None:
                log.warning("QStash %s: no daily_requests point for today; left out", resource)
                continue
            readings.append(
                Reading("qstash_messages_daily", today, resource, user.max_requests_per_day)
            )
        return readings
