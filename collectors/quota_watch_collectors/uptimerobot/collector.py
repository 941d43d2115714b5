"""The uptimerobot collector: monitors in use against the plan's monitor limit, and the
shortest check interval the plan allows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from pydantic import BaseModel

from quota_watch.sdk import CollectContext, CollectorBase, Reading
from quota_watch_collectors.uptimerobot.client import UptimeRobotApi
from quota_watch_collectors.uptimerobot.options import UptimeRobotOptions

__all__ = ["UptimeRobotCollector"]


class UptimeRobotCollector(CollectorBase):
    """One UptimeRobot account: up + down + paused monitors against `monitor_limit`."""

    name: ClassVar[str] = "uptimerobot"
    Options: ClassVar[type[BaseModel]] = UptimeRobotOptions

    options: UptimeRobotOptions

    async def probe(self) -> None:
        """The key is accepted (getAccountDetails, the call a poll makes)."""
        await UptimeRobotApi(self.client, self.options, now=datetime.now(UTC)).account_details()

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """One poll: one getAccountDetails call."""
        api = UptimeRobotApi(
            self.client, self.options, now=ctx.now, report_rate_limit=ctx.report_rate_limit
        )
        account = (await api.account_details()).account
        used = account.up_monitors + account.down_monitors + account.paused_monitors
        return [
            # Paused monitors still take a slot of the plan's limit.
            Reading("monitors", float(used), cap=float(account.monitor_limit)),
            Reading("min_interval", float(account.monitor_interval * 60)),
        ]
