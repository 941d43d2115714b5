"""The provider's forecast and the period zone in the report (JSON, CSV, table) and the plan."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from quota_watch.collect.catalog import Policy
from quota_watch.engine.pools import ShardSeries, plan_pools
from quota_watch.engine.rulepack import RulePack
from quota_watch.engine.signals import Signal
from quota_watch.reporting.entries import Entry
from quota_watch.reporting.plan import plan_to_json
from quota_watch.reporting.render import JSON_KEYS, PROVIDER_MARK, to_csv, to_json, to_table
from quota_watch.status.rows import make_row
from quota_watch.store.models import StoredReading

NOW = datetime(2026, 11, 22, 10, tzinfo=UTC)
START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 12, 1, tzinfo=UTC)


def reading(forecast: float | None) -> StoredReading:
    return StoredReading(
        provider="aws",
        account="main",
        limit="free_tier_units",
        resource="AWS Glue/Catalog-Request",
        unit="count",
        measure="cumulative",
        value=600.0,
        cap=1000.0,
        cap_source="api",
        period_start=START,
        period_end=END,
        ts=NOW,
        period_zone="UTC",
        forecast=forecast,
    )


def entry(forecast: float | None) -> Entry:
    signal = Signal(
        kind="forecast",
        active=True,
        value=600.0,
        cap=1000.0,
        forecast_value=1200.0,
        forecast_utilization=1.2,
    )
    return Entry(make_row(reading(forecast), forecast=signal), None, (600.0,))


def test_json_and_csv_carry_the_new_keys_after_the_old_ones() -> None:
    at = JSON_KEYS.index("period_zone")
    assert JSON_KEYS[at : at + 2] == ("period_zone", "provider_forecast")
    assert at > JSON_KEYS.index("sparkline")  # appended after the keys that were there
    [record] = json.loads(to_json([entry(1200.0)]))
    assert (record["period_zone"], record["provider_forecast"]) == ("UTC", 1200.0)
    [plain] = json.loads(to_json([entry(None)]))
    assert plain["provider_forecast"] is None
    header, row = to_csv([entry(1200.0)]).splitlines()
    assert ",period_zone,provider_forecast," in header
    assert ",UTC,1200.0," in row


def test_the_table_marks_a_forecast_that_is_the_providers() -> None:
    marked = to_table([entry(1200.0)], NOW, width=200)
    assert f"120%{PROVIDER_MARK}" in marked
    assert f"120%{PROVIDER_MARK}" not in to_table([entry(None)], NOW, width=200)


def test_the_plan_json_shows_each_shards_provider_forecast() -> None:
    series = [
        ShardSeries(
            provider="aws",
            account=name,
            group="pool",
            limit="free_tier_units",
            unit="count",
            measure="cumulative",
            calendar=True,
            value=600.0,
            cap=1000.0,
            period_start=START,
            period_end=END,
            forecast_value=forecast or 700.0,
            provider_forecast=forecast,
        )
        for name, forecast in (("a", 1200.0), ("b", None))
    ]
    policy = Policy(multi_account="allowed", commercial_use="allowed")
    plan = plan_pools(series, {"pool": ("aws", ["a", "b"])}, {"aws": policy}, RulePack().shard, NOW)
    [pool] = json.loads(plan_to_json(plan))["pools"]
    shards = {s["account"]: s for s in pool["limits"][0]["shards"]}
    assert shards["a"]["provider_forecast"] == 1200.0
    assert shards["a"]["projected"] == 1200.0
    assert shards["b"]["provider_forecast"] is None
