"""The /metrics exposition: render a snapshot (the facts, or the daemon's live parts) as text.

The parts live in their own modules: the facts and help texts (`facts`), the syntax
(`textformat`), which samples each part holds (`families`), the daemon's pre-rendered
exposition (`live`) and the body sent in chunks or gzipped from cached pieces (`body`).
"""

from __future__ import annotations

from quota_watch.prometheus import names
from quota_watch.prometheus.body import Body
from quota_watch.prometheus.facts import (
    METRIC_HELP,
    PROCESS_METRICS,
    SEVERITIES,
    AccountFacts,
    ClusterFacts,
    ForecastFacts,
    HeartbeatFacts,
    PoolFacts,
    PoolLimitFacts,
    Snapshot,
)
from quota_watch.prometheus.families import (
    add_build,
    add_cluster,
    add_daemon,
    add_delivery_counters,
    add_infos,
    add_intervals,
    add_poll_counters,
    add_pools,
    add_process,
    add_rate_limits,
    add_series,
    add_statuses,
    declare_poll_counters,
)
from quota_watch.prometheus.live import LiveExposition
from quota_watch.prometheus.names import UNIT_SUFFIX, limit_metric, usage_metric
from quota_watch.prometheus.textformat import Exposition, Fragment

__all__ = [
    "METRIC_HELP",
    "PROCESS_METRICS",
    "SEVERITIES",
    "UNIT_SUFFIX",
    "AccountFacts",
    "Body",
    "ClusterFacts",
    "ForecastFacts",
    "Fragment",
    "HeartbeatFacts",
    "LiveExposition",
    "PoolFacts",
    "PoolLimitFacts",
    "Snapshot",
    "limit_metric",
    "render",
    "render_body",
    "usage_metric",
]


def render_body(snapshot: Snapshot, openmetrics: bool = False) -> Body:
    """The exposition of `snapshot` in pieces (OpenMetrics 1.0.0 with `openmetrics`)."""
    if snapshot.live is not None:
        return snapshot.live.body(snapshot, openmetrics)
    out = Exposition()
    add_series(out, snapshot.readings, snapshot.forecasts)
    add_statuses(out, snapshot.statuses)
    add_rate_limits(out, snapshot.rate_limits)
    add_pools(out, snapshot)
    add_daemon(out, snapshot)
    declare_poll_counters(out)
    add_poll_counters(out, snapshot.statuses)
    add_delivery_counters(out, snapshot)
    add_process(out, snapshot.process)
    add_intervals(out, snapshot.accounts)
    out.declare(names.ACCOUNT_INFO)
    add_infos(out, snapshot.accounts)
    add_build(out)
    add_cluster(out, snapshot.cluster)
    return out.body(openmetrics)


def render(snapshot: Snapshot, openmetrics: bool = False) -> bytes:
    """The Prometheus text exposition of `snapshot` (OpenMetrics 1.0.0 with `openmetrics`)."""
    return render_body(snapshot, openmetrics).join()
