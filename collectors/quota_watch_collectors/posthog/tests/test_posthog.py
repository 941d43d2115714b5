"""Unit tests of the posthog collector: cases, the request, the anchor warning."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from quota_watch_collectors.posthog.collector import PostHogCollector
from quota_watch_collectors.posthog.options import PostHogOptions

from quota_watch.sdk import CollectContext, Period
from quota_watch.testing import catalogue_limits, iter_cases, run_case

CASES = Path(__file__).parent / "cases"
TOKEN = "phx_s3cr3t-token-value-0123456789"
NOW = datetime(2026, 8, 21, 14, 0, tzinfo=UTC)
CALENDAR = Period(datetime(2026, 8, 1, tzinfo=UTC), datetime(2026, 9, 1, tzinfo=UTC))
BILLING = {
    "billing_period": {
        "current_period_start": "2026-08-05T00:00:00Z",
        "current_period_end": "2026-09-05T00:00:00Z",
    },
    "products": [{"usage_key": "events", "current_usage": 5, "free_allocation": 1000000}],
}


@pytest.mark.parametrize("case_dir", iter_cases(CASES), ids=lambda p: p.name)
async def test_case(case_dir: Path) -> None:
    await run_case(PostHogCollector, case_dir)


async def test_asks_billing_with_the_key_and_names_the_anchor_day(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=BILLING)

    options = PostHogOptions.model_validate({"token": TOKEN, "api_base": "https://eu.posthog.com/"})
    ctx = CollectContext(account="t", now=NOW, periods={"events": CALENDAR})
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        collector = PostHogCollector(options, client, catalogue_limits(PostHogCollector))
        with caplog.at_level(logging.WARNING):
            readings = await collector.collect(ctx)
    (request,) = seen
    assert str(request.url) == "https://eu.posthog.com/api/billing/"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert [(r.limit, r.value, r.cap) for r in readings] == [("events", 5.0, 1e6)]
    assert "billing_anchor_day = 5" in caplog.text
