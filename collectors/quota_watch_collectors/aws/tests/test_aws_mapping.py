"""Unit tests of the aws collector's mapping: units, offers, forecasts, credits and plan."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from quota_watch_collectors.aws.collector import AwsCollector, classify_unit, months_before
from quota_watch_collectors.aws.tests.support import (
    NOW,
    by_key,
    collect,
    ctx,
    error,
    ok,
    options,
    plan_body,
    usage_row,
)

from quota_watch.sdk import NoData, RateLimited, UnexpectedResponse
from quota_watch.testing import FakeProvider

GIB = 2.0**30


# --- mapping ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit", "kind", "factor"),
    [
        ("Hrs", "seconds", 3600.0),
        ("Hours", "seconds", 3600.0),
        ("Minutes", "seconds", 60.0),
        ("Seconds", "seconds", 1.0),
        ("GB", "bytes", GIB),
        ("GB-Mo", "bytes", GIB),
        ("gb-month", "bytes", GIB),
        ("MB", "bytes", 2.0**20),
        ("TB", "bytes", 2.0**40),
        ("Bytes", "bytes", 1.0),
        ("GiB", "bytes", GIB),
        ("Request", "units", 1.0),
        ("Obj-Month", "units", 1.0),
        ("Lambda-GB-Second", "units", 1.0),
        ("vCPU-Hours", "units", 1.0),
        ("", "units", 1.0),
    ],
)
def test_classify_unit(unit: str, kind: str, factor: float) -> None:
    assert classify_unit(unit, GIB) == (kind, factor)


def test_decimal_gigabytes_when_configured() -> None:
    assert classify_unit("GB-Mo", 1e9) == ("bytes", 1e9)
    assert classify_unit("GiB", 1e9) == ("bytes", GIB)  # an explicit binary unit stays binary
    assert options(gigabyte="GB").gigabyte_bytes == 1e9


def test_months_before_clamps_the_day() -> None:
    assert months_before(datetime(2027, 8, 31, tzinfo=UTC), 6) == datetime(2027, 2, 28, tzinfo=UTC)
    assert months_before(datetime(2028, 8, 31, tzinfo=UTC), 6) == datetime(2028, 2, 29, tzinfo=UTC)
    assert months_before(datetime(2027, 1, 15, 6, tzinfo=UTC), 12) == datetime(
        2026, 1, 15, 6, tzinfo=UTC
    )


async def test_offers_sharing_a_name_are_told_apart() -> None:
    rows = [
        usage_row(region="us-east-1", actualUsageAmount=1.0),
        usage_row(region="eu-west-1", actualUsageAmount=2.0),
        usage_row(usageType="Same"),
        usage_row(usageType="Same"),  # listed twice, identical: one offer
    ]
    readings, _, _ = await collect([ok({"freeTierUsages": rows})], account_plan=False)
    keys = by_key(readings)
    assert keys[("free_tier_units", "AWS Glue/Catalog-Request (us-east-1)")].value == 1.0
    assert keys[("free_tier_units", "AWS Glue/Catalog-Request (eu-west-1)")].value == 2.0
    assert ("free_tier_units", "AWS Glue/Same") in keys
    assert len(readings) == 3  # three offers, each carrying its forecast
    assert all(r.forecast == 2224.25 for r in readings)


async def test_same_offer_with_different_amounts_is_drift() -> None:
    rows = [usage_row(), usage_row(actualUsageAmount=1.0)]
    with pytest.raises(UnexpectedResponse, match="twice"):
        await collect([ok({"freeTierUsages": rows})], account_plan=False)


async def test_zero_limit_gives_no_cap_and_negative_amounts_are_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rows = [
        usage_row(usageType="Zero", limit=0.0),
        usage_row(usageType="Negative", actualUsageAmount=-1.0),
        usage_row(usageType="NoForecast", forecastedUsageAmount=None),
    ]
    caplog.set_level(logging.DEBUG)
    readings, _, _ = await collect([ok({"freeTierUsages": rows})], account_plan=False)
    keys = by_key(readings)
    assert keys[("free_tier_units", "AWS Glue/Zero")].cap is None
    assert not any(r.resource == "AWS Glue/Negative" for r in readings)
    assert keys[("free_tier_units", "AWS Glue/NoForecast")].forecast is None
    assert ("free_tier_forecast_units", "AWS Glue/NoForecast") not in keys
    assert "negative amount" in caplog.text


async def test_forecasts_can_be_switched_off() -> None:
    readings, _, _ = await collect(
        [ok({"freeTierUsages": [usage_row()]})], account_plan=False, forecasts=False
    )
    assert [(r.limit, r.forecast) for r in readings] == [("free_tier_units", None)]


async def test_the_forecast_is_the_readings_not_a_limit_of_its_own() -> None:
    rows = [usage_row(unit="GB", limit=5.0, forecastedUsageAmount=2.5)]
    readings, _, _ = await collect([ok({"freeTierUsages": rows})], account_plan=False)
    [reading] = readings
    assert (reading.limit, reading.cap, reading.forecast) == (
        "free_tier_bytes",
        5.0 * 2**30,
        2.5 * 2**30,
    )
    readings, _, _ = await collect(
        [ok({"freeTierUsages": rows})], account_plan=False, forecast_limits=True
    )
    assert [(r.limit, r.value) for r in readings] == [
        ("free_tier_bytes", 287.0 * 2**30),
        ("free_tier_forecast_bytes", 2.5 * 2**30),
    ]


async def test_account_plan_off_makes_one_call() -> None:
    _, provider, _ = await collect([ok({"freeTierUsages": [usage_row()]})], account_plan=False)
    assert [r.headers["x-amz-target"] for r in provider.requests] == [
        "AWSFreeTierService.GetFreeTierUsage"
    ]


async def test_credit_estimate_follows_spending_and_earned_credits() -> None:
    state: dict[str, Any] = {}
    used: list[tuple[float, float | None]] = []
    for remaining in (100.0, 80.0, 95.0, 60.0):
        routes = [
            ok({"freeTierUsages": []}),
            ok(plan_body(accountPlanRemainingCredits={"amount": remaining, "unit": "USD"})),
        ]
        readings, _, context = await collect(routes, state=state)
        state = dict(context.state)
        reading = by_key(readings)[("credits_used", None)]
        used.append((reading.value, reading.cap))
    # 100 seen first; 20 spent; 15 earned (an activity); 35 more spent.
    assert used == [(0.0, 100.0), (20.0, 100.0), (20.0, 115.0), (55.0, 115.0)]
    assert state == {"credits": {"available": 115.0, "remaining": 60.0}}


async def test_credit_state_is_untouched_when_the_poll_fails() -> None:
    state = {"credits": {"available": 150.0, "remaining": 90.0}}
    routes = [ok({"freeTierUsages": []}), error(400, "ThrottlingException")]
    provider = FakeProvider(routes)
    context = ctx(dict(state))
    async with provider.client() as client:
        with pytest.raises(RateLimited):
            await AwsCollector(options(), client).collect(context)
    assert context.state == state


async def test_credit_grant_below_remaining_leaves_credits_used_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    routes = [ok({"freeTierUsages": []}), ok(plan_body())]
    readings, _, context = await collect(routes, credit_grant=50.0)
    assert [r.limit for r in readings if r.limit.startswith("credits")] == ["credits_remaining"]
    assert "raise credit_grant" in caplog.text
    assert "credits" not in context.state


async def test_plan_without_credits_or_expiry_reports_what_it_has() -> None:
    body = plan_body()
    del body["accountPlanRemainingCredits"], body["accountPlanExpirationDate"]
    with pytest.raises(NoData):
        await collect([ok({"freeTierUsages": []}), ok(body)])


async def test_plan_not_started_has_no_elapsed_time() -> None:
    routes = [ok({"freeTierUsages": []}), ok(plan_body(accountPlanStatus="NOT_STARTED"))]
    readings, _, _ = await collect(routes)
    assert "plan_time_used" not in {r.limit for r in readings}


@pytest.mark.parametrize(
    "expiry",
    ["2027-02-23T00:00:00Z", "2027-02-23T00:00:00.000Z", "2027-02-23T00:00:00", 1803340800],
)
async def test_expiry_timestamp_forms(expiry: Any) -> None:
    routes = [ok({"freeTierUsages": []}), ok(plan_body(accountPlanExpirationDate=expiry))]
    readings, _, _ = await collect(routes)
    elapsed = by_key(readings)[("plan_time_used", None)]
    start = datetime(2026, 8, 23, tzinfo=UTC)
    assert elapsed.value == (NOW - start).total_seconds()
    assert elapsed.cap == (datetime(2027, 2, 23, tzinfo=UTC) - start).total_seconds()


async def test_credits_in_another_currency_are_drift() -> None:
    body = plan_body(accountPlanRemainingCredits={"amount": 5.0, "unit": "EUR"})
    with pytest.raises(UnexpectedResponse, match="'EUR'"):
        await collect([ok({"freeTierUsages": []}), ok(body)])
