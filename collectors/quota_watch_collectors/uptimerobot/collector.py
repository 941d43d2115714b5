"""The uptimerobot collector: monitors in use against the plan's monitor limit; a change of
the plan's shortest check interval is logged."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import ClassVar

from pydantic import BaseModel

from quota_watch.sdk import CollectContext, CollectorBase, Reading
from quota_watch_collectors.uptimerobot.client import UptimeRobotApi
from quota_watch_collectors.uptimerobot.options import UptimeRobotOptions

__all__ = ["UptimeRobotCollector"]

log = logging.getLogger(__name__)


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
        # Paused monitors still take a slot of the plan's limit.
        used = account.up_monitors + account.down_monitors + account.paused_monitors
        reading = Reading("monitors", float(used), cap=float(account.monitor_limit))
        interval = account.monitor_interval * 60
        before = ctx.state.get("min_interval_seconds")
        if isinstance(before, int | float) and before != interval:
            log.warning(
                "uptimerobot account %r: the plan's shortest check interval changed from %g s "
                "to %g s (a plan change: every monitor now checks at most that often)",
                ctx.account,
                before,
                interval,
            )
        ctx.state["min_interval_seconds"] = interval if interval % 1 else int(interval)
        return [reading]
