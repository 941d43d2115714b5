"""The three Grafana dashboards, built from the collector catalogue and the rule pack."""

from __future__ import annotations

from typing import Any

from quota_watch.prometheus.dashboards.account import ACCOUNT_UID, GRAFANA_UNIT, account
from quota_watch.prometheus.dashboards.inputs import Inputs
from quota_watch.prometheus.dashboards.overview import OVERVIEW_UID, overview
from quota_watch.prometheus.dashboards.pools import POOLS_UID, pools

__all__ = [
    "ACCOUNT_UID",
    "GRAFANA_UNIT",
    "OVERVIEW_UID",
    "POOLS_UID",
    "Inputs",
    "account",
    "build_all",
    "overview",
    "pools",
]


def build_all(inputs: Inputs) -> dict[str, dict[str, Any]]:
    """Every dashboard's JSON model by file name."""
    return {
        f"{board.uid}.json": board.to_json()
        for board in (overview(inputs), account(inputs), pools(inputs))
    }
