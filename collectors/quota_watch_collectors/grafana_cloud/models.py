"""What each grafana_cloud limit reads: its usage query, its cap query and their unit scale."""

from __future__ import annotations

from dataclasses import dataclass

from quota_watch_collectors.grafana_cloud.options import GrafanaCloudOptions

__all__ = ["UsageQuery", "usage_queries"]


@dataclass(frozen=True, slots=True)
class UsageQuery:
    """One limit of the catalogue as PromQL: the used amount, the plan's included amount."""

    limit: str
    unit: str
    query: str
    cap_query: str
    scale: float = 1.0


def usage_queries(options: GrafanaCloudOptions) -> list[UsageQuery]:
    """The queries of every limit, from the options (defaults: Grafana's usage metrics)."""
    gb = options.gigabyte
    return [
        UsageQuery(
            "metrics_active_series",
            "count",
            options.active_series_query,
            options.included_series_query,
        ),
        UsageQuery(
            "metrics_billable_series",
            "count",
            options.billable_series_query,
            options.included_series_query,
        ),
        UsageQuery("logs_ingested", "bytes", options.logs_query, options.logs_included_query, gb),
        UsageQuery(
            "traces_ingested", "bytes", options.traces_query, options.traces_included_query, gb
        ),
    ]
