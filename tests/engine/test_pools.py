"""Shard-pool arithmetic and advice on synthetic pools (quota_watch.engine.pools)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quota_watch.collect.catalog import Policy
from quota_watch.engine.pools import (
    Plan,
    ShardSeries,
    plan_pools,
    policy_blocks_split,
    recommended_shards,
)
from quota_watch.engine.rulepack import ShardRule
from quota_watch.reporting.plan import (
    advice_text,
    plan_to_json,
    plan_to_markdown,
    plan_to_text,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DAY_START = datetime(2026, 11, 22, tzinfo=UTC)
DAY_END = DAY_START + timedelta(days=1)
CAP = 100_000.0
ALLOWED = Policy(multi_account="allowed", commercial_use="allowed")
UNKNOWN = Policy(multi_account="unknown", commercial_use="allowed")
PROHIBITED = Policy(multi_account="prohibited", commercial_use="allowed")
NONCOMMERCIAL = Policy(multi_account="discouraged", commercial_use="prohibited")
RULE = ShardRule()


def requests(
    account: str, value: float, at_end: float, *, group: str | None = "edge"
) -> ShardSeries:
    """Workers requests of one shard: `value` now, projected `at_end` at the day's end."""
    return ShardSeries(
        provider="cloudflare",
        account=account,
        group=group,
        limit="workers_requests",
        title="Workers requests",
        unit="count",
        measure="cumulative",
        calendar=True,
        value=value,
        cap=CAP,
        period_start=DAY_START,
        period_end=DAY_END,
        forecast_value=at_end,
        rate=(at_end - value) / (DAY_END - NOW).total_seconds(),
    )


def storage(
    account: str, value: float, per_day: float, *, resource: str | None = None
) -> ShardSeries:
    """A level limit (500 MB) growing `per_day` bytes a day."""
    return ShardSeries(
        provider="cloudflare",
        account=account,
        group="edge" if resource is None else None,
        limit="d1_storage" if resource is None else "d1_database_size",
        title="D1 storage",
        resource=resource,
        unit="bytes",
        measure="level",
        calendar=False,
        value=value,
        cap=500e6,
        rate=per_day / 86400,
        exhausts_at=NOW + timedelta(days=(500e6 - value) / per_day) if per_day > 0 else None,
    )


POOL = {"edge": ("cloudflare", ["cf-a", "cf-b", "cf-c"])}


def plan(
    series: list[ShardSeries],
    policy: Policy = ALLOWED,
    pools: dict[str, tuple[str, list[str]]] | None = None,
) -> Plan:
    """The plan of `series` with the default shard rule at NOW."""
    return plan_pools(series, POOL if pools is None else pools, {"cloudflare": policy}, RULE, NOW)


def test_recommended_shards_is_the_ceiling_at_target() -> None:
    assert recommended_shards(250_000, CAP, 0.7) == 4  # 250k / 70k = 3.57
    assert recommended_shards(210_000, CAP, 0.7) == 3  # exactly 3 shards' worth, no float noise
    assert recommended_shards(0, CAP, 0.7) == 1
    with pytest.raises(ValueError):
        recommended_shards(1, 0, 0.7)


@given(
    peak=st.floats(min_value=0, max_value=1e12, allow_nan=False),
    cap=st.floats(min_value=1, max_value=1e9, allow_nan=False),
    target=st.floats(min_value=0.05, max_value=1.0),
)
def test_recommended_shards_keep_each_at_or_below_target(
    peak: float, cap: float, target: float
) -> None:
    n = recommended_shards(peak, cap, target)
    assert n >= 1
    assert peak / n <= cap * target * (1 + 1e-6)
    if n > 1:  # one shard fewer would not do
        assert peak / (n - 1) > cap * target * (1 - 1e-6)


def test_balanced_pool_with_room_needs_nothing() -> None:
    result = plan([requests(n, 20_000, 50_000) for n in ("cf-a", "cf-b", "cf-c")])
    pool = result.pools[0]
    limit = pool.binding
    assert limit is not None
    assert (limit.total_value, limit.total_cap, limit.projected_peak) == (60_000, 300_000, 150_000)
    assert limit.utilization == pytest.approx(0.2)
    assert limit.recommended == 3  # 150k / 70k = 2.14
    assert limit.imbalance == pytest.approx(1.0)
    assert pool.advice.kind == "ok"
    assert not pool.advice.needs_action


def test_balanced_pool_that_could_lose_a_shard_gets_a_consolidation_hint() -> None:
    result = plan([requests(n, 10_000, 30_000) for n in ("cf-a", "cf-b", "cf-c")])
    advice = result.pools[0].advice
    assert advice.kind == "consolidate"
    assert advice.recommended == 2  # 90k / 70k
    assert "could lose a shard" in advice_text(advice, 0.7)


def test_no_consolidation_hint_from_a_value_early_in_the_period() -> None:
    no_forecast = [
        ShardSeries(
            provider="cloudflare",
            account=name,
            group="edge",
            limit="workers_requests",
            unit="count",
            measure="cumulative",
            calendar=True,
            value=1_000,
            cap=CAP,
            period_end=DAY_END,
        )
        for name in ("cf-a", "cf-b", "cf-c")
    ]
    result = plan(no_forecast)
    assert result.pools[0].binding is not None
    assert result.pools[0].binding.projected_from == "current value"
    assert result.pools[0].advice.kind == "ok"


def test_one_hot_shard_in_a_pool_with_room_gets_rebalance_advice() -> None:
    result = plan(
        [
            requests("cf-a", 10_000, 25_000),
            requests("cf-b", 12_000, 30_000),
            requests("cf-c", 60_000, 110_000),
        ]
    )
    pool = result.pools[0]
    assert pool.binding is not None and pool.binding.recommended == 3  # 165k / 70k = 2.36
    assert pool.binding.hottest == "cf-c"
    assert pool.binding.imbalance == pytest.approx(1.1 / (1.65 / 3))
    advice = pool.advice
    assert advice.kind == "rebalance"
    assert advice.hot_shard == "cf-c"
    assert advice.cool_shards == ("cf-a", "cf-b")
    text = advice_text(advice, 0.7)
    assert "move load from cf-c to cf-a, cf-b" in text


def test_pool_growing_past_capacity_gets_a_fourth_shard_with_a_date() -> None:
    series = [
        requests("cf-a", 30_000, 65_000),
        requests("cf-b", 32_000, 70_000),
        requests("cf-c", 55_000, 115_000),
    ]
    series.append(storage("cf-a", 100e6, 1e6))  # a second limit that does not bind
    series.append(storage("cf-b", 100e6, 1e6))
    series.append(storage("cf-c", 100e6, 1e6))
    result = plan(series)
    pool = result.pools[0]
    assert pool.binding is not None
    assert pool.binding.limit == "workers_requests"
    assert pool.binding.recommended == 4  # 250k / 70k = 3.57
    assert pool.recommended == 4
    advice = pool.advice
    assert advice.kind == "split"
    assert advice.hot_shard == "cf-c"
    assert advice.policy_caution is None
    # The pool passes 70 % of 300k = 210k when 117k + rate * t = 210k.
    rate = (250_000 - 117_000) / (DAY_END - NOW).total_seconds()
    expected = NOW + timedelta(seconds=(210_000 - 117_000) / rate)
    assert advice.act_by is not None
    assert abs((advice.act_by - expected).total_seconds()) < 1
    # Full only after the daily reset at this rate: no headroom figure within the period.
    assert (300_000 - 117_000) / rate > (DAY_END - NOW).total_seconds()
    assert pool.binding.headroom_days is None
    text = advice_text(advice, 0.7)
    assert "add 1 shard account before" in text
    assert "(3 -> 4)" in text and "Binding limit: Workers requests" in text
    assert "Hot shard: cf-c" in text
    storage_limit = next(p for p in pool.limits if p.limit == "d1_storage")
    # level limit: projected over the 30-day horizon: 3 x (100 MB + 30 MB)
    assert storage_limit.projected_peak == pytest.approx(390e6)
    assert storage_limit.projected_from == "horizon"


def test_unknown_policy_advises_a_split_with_a_caution() -> None:
    series = [requests(n, 40_000, 90_000) for n in ("cf-a", "cf-b", "cf-c")]
    advice = plan(series, UNKNOWN).pools[0].advice
    assert advice.kind == "split"
    assert advice.policy_caution is not None
    assert "Check the terms first" in advice_text(advice, 0.7)


@pytest.mark.parametrize(
    ("policy", "reason"),
    [
        (PROHIBITED, "only one free account"),
        (NONCOMMERCIAL, "non-commercial use only"),
    ],
)
def test_policy_prohibited_provider_gets_upgrade_advice(policy: Policy, reason: str) -> None:
    assert policy_blocks_split(policy)
    series = [requests(n, 40_000, 90_000) for n in ("cf-a", "cf-b", "cf-c")]
    advice = plan(series, policy).pools[0].advice
    assert advice.kind == "upgrade"
    assert advice.policy_reason is not None and reason in advice.policy_reason
    text = advice_text(advice, 0.7)
    assert "upgrade the pool to a paid plan or reduce usage" in text
    assert "add" not in text.split(";")[0]


def test_single_account_and_resource_get_advice_when_projected_to_fill() -> None:
    single = requests("solo", 70_000, 140_000, group=None)
    database = storage("cf-a", 400e6, 4.3e6, resource="users-db")  # 500 MB in ~23 days
    quiet = storage("cf-b", 10e6, 1e5, resource="logs-db")
    hot = storage("cf-a", 499e6, 1e6, resource="hot-db")
    result = plan([single, database, quiet, hot], pools={})
    kinds = {(a.account, a.kind) for a in result.advice}
    assert kinds == {("solo", "split"), ("cf-a", "archive")}
    assert [a.resource for a in result.advice if a.kind == "archive"] == ["hot-db", "users-db"]
    archive = next(a for a in result.advice if a.resource == "users-db")
    assert archive.exhausts_at is not None
    assert (archive.exhausts_at - NOW).days == 23
    assert advice_text(archive, 0.7).startswith(
        "Users-db (D1 storage, cloudflare/cf-a): will hit 500 MB at 2026-12-15"
    )
    assert "split it or archive" in advice_text(archive, 0.7)
    solo = next(a for a in result.advice if a.kind == "split")
    assert solo.recommended == 2  # 140k / 70k
    upgrade = plan([single], PROHIBITED, pools={}).advice[0]
    assert upgrade.kind == "upgrade"


def test_shard_without_a_cap_leaves_the_limit_out() -> None:
    uncapped = ShardSeries(
        provider="cloudflare",
        account="cf-c",
        group="edge",
        limit="workers_requests",
        unit="count",
        measure="cumulative",
        calendar=True,
        value=1.0,
        cap=None,
    )
    result = plan([requests("cf-a", 1, 2), requests("cf-b", 1, 2), uncapped])
    assert result.pools[0].limits == ()
    assert result.pools[0].advice.kind == "ok"
    assert result.pools[0].recommended == 3


def test_renderings_carry_the_figures() -> None:
    series = [
        requests("cf-a", 30_000, 65_000),
        requests("cf-b", 32_000, 70_000),
        requests("cf-c", 55_000, 115_000),
    ]
    result = plan(series)
    text = plan_to_text(result, width=160)
    assert "Pool edge (cloudflare, 3 shards: cf-a, cf-b, cf-c) - needs 4 shards" in text
    assert "* workers_requests" in text and "cf-c (1.38x)" in text
    assert "resets first" in text
    markdown = plan_to_markdown(result)
    assert "| **workers_requests** (binding) | 117k | 300k | 39% | 250k | 83% | 4 |" in markdown
    assert markdown.count("\n|") >= 3
    document = json.loads(plan_to_json(result))
    pool = document["pools"][0]
    assert (pool["shards"], pool["recommended"], pool["binding_limit"]) == (
        3,
        4,
        "workers_requests",
    )
    assert pool["advice"]["kind"] == "split"
    assert pool["limits"][0]["hottest"] == "cf-c"
    assert math.isclose(pool["limits"][0]["projected_utilization"], 250_000 / 300_000)
    assert document["generated_at"] == "2026-11-22T12:00:00Z"
