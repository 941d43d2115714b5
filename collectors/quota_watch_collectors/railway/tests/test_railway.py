"""Unit tests of the railway collector: cases, the dollar conversion, plans, the query."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import httpx
import pytest
from pydantic import ValidationError
from quota_watch_collectors.railway.client import usage_query
from quota_watch_collectors.railway.collector import RailwayCollector, dollars
from quota_watch_collectors.railway.options import RailwayOptions

from quota_watch.testing import catalogue_limits, iter_cases, run_case

CASES = Path(__file__).parent / "cases"
TOKEN = "rw-fake-token-0123456789abcdef"
WORKSPACE = "7c3a9f2e-1b4d-4e8a-9c0f-5d6e7f8a9b0c"


@pytest.mark.parametrize("case_dir", iter_cases(CASES), ids=lambda p: p.name)
async def test_case(case_dir: Path) -> None:
    await run_case(RailwayCollector, case_dir)


def _options(**overrides: object) -> RailwayOptions:
    return RailwayOptions.model_validate({"token": TOKEN, "workspace_id": WORKSPACE, **overrides})


def _collector(**overrides: object) -> RailwayCollector:
    # declared_limits and period_anchors make no request: no HTTP client is needed.
    no_client = cast(httpx.AsyncClient, None)
    return RailwayCollector(_options(**overrides), no_client, catalogue_limits(RailwayCollector))


def test_prices_match_the_monthly_rates() -> None:
    prices = _options().prices.by_measurement()
    # One vCPU and one GB of memory for a 30-day month cost $20 and $10.
    assert dollars({"CPU_USAGE": 43200}, prices) == pytest.approx(20.0)
    assert dollars({"MEMORY_USAGE_GB": 43200}, prices) == pytest.approx(10.0)
    assert dollars({"NETWORK_TX_GB": 100}, prices) == pytest.approx(5.0)
    assert dollars({"NETWORK_RX_GB": 100}, prices) == 0.0  # ingress is free


def test_documented_example_in_dollars() -> None:
    prices = _options().prices.by_measurement()
    used = {"CPU_USAGE": 812.4, "MEMORY_USAGE_GB": 10210.5, "NETWORK_TX_GB": 0.42}
    assert round(dollars(used, prices), 2) == 2.76


@pytest.mark.parametrize(
    ("overrides", "cap"),
    [({"plan": "hobby"}, 5.0), ({"plan": "pro"}, 20.0), ({"credit_usd": 3.5}, 3.5)],
)
def test_plan_credit_becomes_the_cap(overrides: dict[str, object], cap: float) -> None:
    collector = _collector(**overrides)
    limits = collector.declared_limits()
    assert limits is not None
    assert {name: spec.cap for name, spec in limits.items()} == {
        "usage_cost": cap,
        "estimated_cost": cap,
    }


def test_free_plan_uses_the_catalogue_as_is() -> None:
    collector = _collector()
    assert collector.declared_limits() is None
    assert collector.catalogue["usage_cost"].cap == 1.0


def test_anchor_day_moves_the_billing_cycle_limits() -> None:
    collector = _collector(billing_anchor_day=14)
    assert collector.period_anchors() == {"usage_cost": 14}


def test_query_names_the_configured_argument() -> None:
    assert "workspaceId: $w" in usage_query("workspaceId")
    assert "teamId" not in usage_query("workspaceId")


@pytest.mark.parametrize(
    "overrides",
    [{"workspace_id": "a/b"}, {"plan": "team"}, {"credit_usd": 0}, {"api_base": "file:///x"}],
)
def test_options_reject(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        _options(**overrides)
