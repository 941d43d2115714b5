"""The mongodb_atlas collector: an M0 cluster's data size and connections, per replica set."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import ClassVar

from pydantic import BaseModel

from quota_watch.sdk import CollectContext, CollectorBase, NoData, Reading, UnexpectedResponse
from quota_watch_collectors.mongodb_atlas.client import AtlasApi
from quota_watch_collectors.mongodb_atlas.models import Measurements, Process
from quota_watch_collectors.mongodb_atlas.options import MongodbAtlasOptions

__all__ = ["MongodbAtlasCollector"]

log = logging.getLogger(__name__)

PRIMARY = "REPLICA_PRIMARY"
# Atlas measurement name -> catalogue limit.
METRICS = {"LOGICAL_SIZE": "data_size", "CONNECTIONS": "connections"}


def latest_value(measurements: Measurements, name: str) -> float | None:
    """The newest non-null point of measurement `name`; None when it is absent or all null.

    Atlas ends a series with null points for intervals it has not sampled yet: they mean
    "no data", never 0.
    """
    for measurement in measurements.measurements:
        if measurement.name != name:
            continue
        points = sorted(measurement.data_points, key=lambda point: point.timestamp)
        for point in reversed(points):
            if point.value is not None:
                return point.value
        return None
    return None


class MongodbAtlasCollector(CollectorBase):
    """One Atlas project: each replica set's primary, read through its measurements."""

    name: ClassVar[str] = "mongodb_atlas"
    Options: ClassVar[type[BaseModel]] = MongodbAtlasOptions

    options: MongodbAtlasOptions

    async def probe(self) -> None:
        """The credentials read the project's process list."""
        api = AtlasApi(self.client, self.options, now=datetime.now(UTC))
        await api.sign_in()
        await api.processes()

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """One poll: the primaries, then LOGICAL_SIZE and CONNECTIONS of each."""
        api = AtlasApi(
            self.client, self.options, now=ctx.now, report_rate_limit=ctx.report_rate_limit
        )
        await api.sign_in()
        targets = await self._targets(api)
        readings: list[Reading] = []
        unknown: list[str] = []
        for resource, process_id in targets:
            measured = await api.measurements(process_id, list(METRICS))
            for metric, limit in METRICS.items():
                value = latest_value(measured, metric)
                if value is None:
                    unknown.append(f"{metric} of {process_id}")
                    continue
                readings.append(Reading(limit, value, resource=resource))
        if unknown:
            log.warning(
                "mongodb_atlas project %s: no data point (absent or only null) for %s; left "
                "out as unknown",
                self.options.group_id,
                ", ".join(unknown),
            )
        if not readings:
            raise NoData(
                f"mongodb_atlas project {self.options.group_id}: no measurement has a value yet"
            )
        return readings

    async def _targets(self, api: AtlasApi) -> list[tuple[str, str]]:
        """(resource, process id) pairs: the configured processes, else each primary."""
        if self.options.processes:
            return [(process, process) for process in self.options.processes]
        processes = await api.processes()
        if processes and not any(p.type_name.startswith("REPLICA_") for p in processes):
            kinds = sorted({p.type_name for p in processes})
            raise UnexpectedResponse(
                f"mongodb_atlas project {self.options.group_id}: no replica-set process among "
                f"the process types {kinds}; list the ones to read in `processes`"
            )
        primaries = [p for p in processes if p.type_name == PRIMARY]
        if not primaries:
            raise NoData(
                f"mongodb_atlas project {self.options.group_id}: no REPLICA_PRIMARY process "
                "(no cluster, or the cluster is paused)"
            )
        return [(_resource(p), p.id) for p in primaries]


def _resource(process: Process) -> str:
    """The replica set's name: it stays the same when another member becomes primary."""
    return process.replica_set_name or process.id
