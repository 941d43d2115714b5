"""Options of the grafana_cloud collector: the stack, its token and the usage queries."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, field_validator

from quota_watch.sdk import ApiBase, Unit, parse_duration, parse_quantity

__all__ = ["USAGE_DATASOURCE_UID", "GrafanaCloudOptions"]

USAGE_DATASOURCE_UID = "grafanacloud-usage"
_UID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def _duration(value: Any) -> Any:
    return value if isinstance(value, timedelta) else parse_duration(value)


def _byte_size(value: Any) -> Any:
    return value if isinstance(value, int) else int(parse_quantity(value, Unit.BYTES))


def _promql(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise ValueError("an empty PromQL query")
    return value


PromQL = Annotated[str, BeforeValidator(_promql)]


class GrafanaCloudOptions(BaseModel):
    """`[accounts.options]` of a `grafana_cloud` account."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: SecretStr = Field(
        description="service account token (glsa_...) of the stack, role Viewer; "
        "`token_file` in the config"
    )
    api_base: ApiBase = Field(
        description="the stack's Grafana URL, e.g. https://my-stack.grafana.net (no path)"
    )
    datasource_uid: str = Field(
        default=USAGE_DATASOURCE_UID,
        description="uid of the stack's provisioned usage Prometheus data source",
    )
    timeout: Annotated[timedelta | None, BeforeValidator(_duration)] = Field(
        default=None, description="request timeout (default: the core's client timeout)"
    )
    max_response_size: Annotated[int, BeforeValidator(_byte_size)] = Field(
        default=2**20, gt=0, description="larger responses are refused (bytes or '1 MiB')"
    )
    # The queries: metric names from Grafana's usage-metrics docs; label sets are not
    # documented, so each query aggregates, and each can be replaced here.
    active_series_query: PromQL = Field(
        default="sum(max by (id) (grafanacloud_instance_active_series))",
        description="active metric series now, summed over the org's stacks",
    )
    billable_series_query: PromQL = Field(
        default="max(grafanacloud_org_metrics_billable_series)",
        description="the org's billable metric series (the month's billing figure)",
    )
    included_series_query: PromQL = Field(
        default="max(grafanacloud_org_metrics_included_series)",
        description="series included in the plan (the cap of both series limits)",
    )
    logs_query: PromQL = Field(
        default="max(grafanacloud_org_logs_usage)",
        description="logs ingested this month, in GB",
    )
    logs_included_query: PromQL = Field(
        default="max(grafanacloud_org_logs_included_usage)",
        description="logs included in the plan, in GB",
    )
    traces_query: PromQL = Field(
        default="max(grafanacloud_org_traces_usage)",
        description="traces ingested this month, in GB",
    )
    traces_included_query: PromQL = Field(
        default="max(grafanacloud_org_traces_included_usage)",
        description="traces included in the plan, in GB",
    )
    gigabyte: float = Field(
        default=1e9,
        gt=0,
        description="bytes in the GB the usage metrics report (decimal unless Grafana says "
        "otherwise; 1073741824 for GiB)",
    )

    @field_validator("datasource_uid")
    @classmethod
    def _check_uid(cls, value: str) -> str:
        if not _UID.match(value):
            raise ValueError(f"{value!r} is not a data source uid (letters, digits, - and _)")
        return value

    @property
    def datasource_url(self) -> str:
        """The Prometheus API root of the usage data source, through Grafana's proxy."""
        return f"{self.api_base}/api/datasources/proxy/uid/{self.datasource_uid}"
