"""The grafana_cloud collector: the usage data source's figures against the plan's included."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel

from quota_watch.sdk import CollectContext, CollectorBase, Reading
from quota_watch_collectors.grafana_cloud.client import engine_options
from quota_watch_collectors.grafana_cloud.options import GrafanaCloudOptions
from quota_watch_collectors.prometheus.collector import PrometheusCollector

__all__ = ["GrafanaCloudCollector"]


class GrafanaCloudCollector(CollectorBase):
    """Grafana Cloud: metrics series, logs and traces GB from the grafanacloud-usage source."""

    name: ClassVar[str] = "grafana_cloud"
    Options: ClassVar[type[BaseModel]] = GrafanaCloudOptions

    options: GrafanaCloudOptions

    def _engine(self) -> PrometheusCollector:
        # limits={}: the engine's declared limits are not used; ours come from limits.toml.
        return PrometheusCollector(engine_options(self.options), self.client, limits={})

    async def probe(self) -> None:
        """Every usage query once: token, data source and result shapes."""
        await self._engine().probe()

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """One instant query per figure and per included amount (the API's cap).

        A query without a value leaves its limit out (never 0); NoData when all are empty.
        """
        return await self._engine().collect(ctx)
