"""The usage data source as a Prometheus API: the prometheus collector's query engine, set up.

Grafana proxies `GET <stack>/api/datasources/proxy/uid/<uid>/api/v1/query` to the usage
Prometheus with the service account's bearer token; the prometheus collector's client (on the
SDK's ProviderHttp) does the request, the status mapping and the `status: error` bodies.
"""

from __future__ import annotations

from quota_watch_collectors.grafana_cloud.models import usage_queries
from quota_watch_collectors.grafana_cloud.options import GrafanaCloudOptions
from quota_watch_collectors.prometheus.options import PrometheusOptions

__all__ = ["engine_options"]


def engine_options(options: GrafanaCloudOptions) -> PrometheusOptions:
    """The prometheus collector's options that read every grafana_cloud limit."""
    limits = {
        q.limit: {
            # Only the queries and the scale matter to the engine; the core reads the
            # limit's title, unit, period and catalogue cap from grafana_cloud's limits.toml.
            "title": q.limit,
            "unit": q.unit,
            "measure": "level",
            "query": q.query,
            "cap_query": q.cap_query,
            "scale": q.scale,
        }
        for q in usage_queries(options)
    }
    raw: dict[str, object] = {
        "api_base": options.datasource_url,
        "bearer_token": options.token,
        "max_response_size": options.max_response_size,
        "limits": limits,
    }
    if options.timeout is not None:
        raw["timeout"] = options.timeout
    return PrometheusOptions.model_validate(raw)
