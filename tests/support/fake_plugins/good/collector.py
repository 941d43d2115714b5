"""A minimal valid third-party collector, for registry tests."""

from __future__ import annotations

from pydantic import BaseModel

from quota_watch.sdk import CollectContext, CollectorBase, Reading


class GoodOptions(BaseModel):
    """No options."""


class GoodCollector(CollectorBase):
    """Reports one constant reading."""

    name = "good"
    Options = GoodOptions
    uses_network = False

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """One reading."""
        return [Reading("things", 1.0)]
