"""The flyio collector: machines and volume size of an organization, counted app by app."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from pydantic import BaseModel

from quota_watch.sdk import CollectContext, CollectorBase, LimitSpec, Reading, parse_quantity
from quota_watch_collectors.flyio.client import FlyApi
from quota_watch_collectors.flyio.options import FlyioOptions

__all__ = ["ALLOWANCE_CAPS", "FlyioCollector"]

# Machines in these states no longer exist for billing or for the trial's machine count.
GONE = frozenset({"destroyed", "destroying"})
# Caps per allowance (None: no cap). "trial" is limits.toml as is.
ALLOWANCE_CAPS: dict[str, dict[str, float | None]] = {
    "legacy_hobby": {
        "machines": None,
        "machines_started": 3,
        "volume_size": parse_quantity("3 GB", "bytes"),
    },
    "none": {"machines": None, "machines_started": None, "volume_size": None},
}


class FlyioCollector(CollectorBase):
    """One Fly.io organization: machines (all, started) and provisioned volume size."""

    name: ClassVar[str] = "flyio"
    Options: ClassVar[type[BaseModel]] = FlyioOptions

    options: FlyioOptions

    def declared_limits(self) -> dict[str, LimitSpec] | None:
        """The catalogue (trial caps), or its limits with the chosen allowance's caps."""
        caps = ALLOWANCE_CAPS.get(self.options.allowance)
        if caps is None:
            return None
        return {
            name: spec.model_copy(update={"cap": caps[name]})
            for name, spec in self.catalogue.items()
        }

    async def probe(self) -> None:
        """The token lists the organization's apps (or reads the first configured app)."""
        api = FlyApi(self.client, self.options, now=datetime.now(UTC))
        if self.options.apps:
            await api.machines(self.options.apps[0])
        else:
            await api.app_names()

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """One poll: the apps, then each app's machines and volumes."""
        api = FlyApi(
            self.client, self.options, now=ctx.now, report_rate_limit=ctx.report_rate_limit
        )
        apps = list(self.options.apps) or await api.app_names()
        machines = 0
        started = 0
        volume_bytes = 0.0
        for app in apps:
            for machine in await api.machines(app):
                if machine.state in GONE:
                    continue
                machines += 1
                started += machine.state == "started"
            for volume in await api.volumes(app):
                if volume.state in GONE:
                    continue
                # Fly sizes volumes in "GB"; read as 1e9 like the cap, so the share is exact.
                volume_bytes += volume.size_gb * 1e9
        return [
            Reading("machines", machines),
            Reading("machines_started", started),
            Reading("volume_size", volume_bytes),
        ]
