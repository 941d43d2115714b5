"""A minimal valid third-party collector, for registry tests."""

from __future__ import annotations

from quota_watch.sdk import CollectContext, CollectorBase, Reading


class NotAModel:
    """No options."""


class MisnamedCollector(CollectorBase):
    """Reports one constant reading."""

    name = "other"
    Options = NotAModel  # type: ignore[assignment]
    uses_network = False

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """One reading."""
        return [Reading("things", 1.0)]
