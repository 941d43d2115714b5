"""Unit tests of the uptimerobot collector: cases, the form body it posts, rate-limit headers."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
from quota_watch_collectors.uptimerobot.collector import UptimeRobotCollector
from quota_watch_collectors.uptimerobot.options import UptimeRobotOptions

from quota_watch.sdk import AuthError, CollectContext
from quota_watch.testing import catalogue_limits, iter_cases, run_case

CASES = Path(__file__).parent / "cases"
KEY = "ur7654321-s3cr3tkey0123456789abcdef"
NOW = datetime(2026, 8, 21, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize("case_dir", iter_cases(CASES), ids=lambda p: p.name)
async def test_case(case_dir: Path) -> None:
    await run_case(UptimeRobotCollector, case_dir)


async def _collect(answer: httpx.Response) -> tuple[list[httpx.Request], CollectContext]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer

    options = UptimeRobotOptions.model_validate({"api_key": KEY})
    ctx = CollectContext(account="t", now=NOW, periods={})
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        collector = UptimeRobotCollector(options, client, catalogue_limits(UptimeRobotCollector))
        await collector.collect(ctx)
    return seen, ctx


async def test_posts_the_key_in_a_form_body_never_in_the_url() -> None:
    account = {
        "monitor_limit": 50,
        "monitor_interval": 5,
        "up_monitors": 1,
        "down_monitors": 0,
        "paused_monitors": 0,
    }
    answer = httpx.Response(
        200,
        json={"stat": "ok", "account": account},
        headers={"X-RateLimit-Remaining": "9", "X-RateLimit-Limit": "10"},
    )
    seen, ctx = await _collect(answer)
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == "https://api.uptimerobot.com/v2/getAccountDetails"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.content.decode()) == {"api_key": [KEY], "format": ["json"]}
    assert ctx.rate_limit is not None and ctx.rate_limit.remaining == 9


async def test_refused_key_is_masked_in_the_error() -> None:
    body = {
        "stat": "fail",
        "error": {"type": "invalid_parameter", "parameter_name": "api_key", "passed_value": KEY},
    }
    with pytest.raises(AuthError) as raised:
        await _collect(httpx.Response(200, json=body))
    assert KEY not in str(raised.value)


async def test_an_interval_change_is_logged_and_saved(caplog: pytest.LogCaptureFixture) -> None:
    account = {
        "monitor_limit": 50,
        "monitor_interval": 5,
        "up_monitors": 1,
        "down_monitors": 0,
        "paused_monitors": 0,
    }
    options = UptimeRobotOptions.model_validate({"api_key": KEY})
    ctx = CollectContext(account="t", now=NOW, periods={}, state={"min_interval_seconds": 60})
    transport = httpx.MockTransport(
        lambda r: httpx.Response(200, json={"stat": "ok", "account": account})
    )
    async with httpx.AsyncClient(transport=transport) as client:
        collector = UptimeRobotCollector(options, client, catalogue_limits(UptimeRobotCollector))
        with caplog.at_level(logging.WARNING):
            await collector.collect(ctx)
    assert "from 60 s to 300 s" in caplog.text
    assert ctx.state["min_interval_seconds"] == 300
