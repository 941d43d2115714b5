"""Unit tests of the sentry collector: cases, the requests it sends, rate-limit reporting."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from quota_watch_collectors.sentry.collector import SentryCollector
from quota_watch_collectors.sentry.options import SentryOptions

from quota_watch.sdk import AuthError, CollectContext, Period
from quota_watch.testing import account_limits, catalogue_limits, iter_cases, run_case

CASES = Path(__file__).parent / "cases"
NOW = datetime(2026, 8, 21, 14, 0, tzinfo=UTC)
CYCLE = Period(datetime(2026, 8, 5, tzinfo=UTC), datetime(2026, 9, 5, tzinfo=UTC))
TOKEN = "sntrys_s3cr3t-token-value-0123456789"


@pytest.mark.parametrize("case_dir", iter_cases(CASES), ids=lambda p: p.name)
async def test_case(case_dir: Path) -> None:
    await run_case(SentryCollector, case_dir)


def _stats(groups: list[dict[str, Any]]) -> dict[str, Any]:
    return {"start": "x", "end": "y", "intervals": [], "groups": groups}


async def _collect(handler: Any, **overrides: Any) -> tuple[list[httpx.Request], CollectContext]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        response: httpx.Response = handler(request)
        return response

    options = SentryOptions.model_validate(
        {"token": TOKEN, "organization": "acme", "billing_anchor_day": 5, **overrides}
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(record)) as client:
        collector = SentryCollector(options, client, catalogue_limits(SentryCollector))
        periods = {name: CYCLE for name in account_limits(collector)}
        ctx = CollectContext(account="t", now=NOW, periods=periods)
        await collector.collect(ctx)
    return seen, ctx


async def test_requests_name_the_window_field_and_groups() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        group = {"by": {"category": "error", "outcome": "accepted"}, "totals": {"sum(quantity)": 1}}
        return httpx.Response(
            200,
            json=_stats([group]),
            headers={"X-Sentry-Rate-Limit-Remaining": "7", "X-Sentry-Rate-Limit-Limit": "40"},
        )

    seen, ctx = await _collect(answer, api_base="https://de.sentry.io/api/0/")
    assert [r.url.path for r in seen] == ["/api/0/organizations/acme/stats_v2/"] * 2
    events, attachments = seen
    assert events.url.params.get_list("groupBy") == ["category", "outcome"]
    assert events.url.params["field"] == "sum(quantity)"
    assert events.url.params["start"] == "2026-08-05T00:00:00Z"
    assert "category" not in events.url.params
    assert attachments.url.params["category"] == "attachment"
    assert events.headers["Authorization"] == f"Bearer {TOKEN}"
    assert ctx.rate_limit is not None and ctx.rate_limit.remaining == 7


async def test_auth_error_names_scope_and_hides_token() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"detail": f"token {TOKEN} lacks scope"})

    with pytest.raises(AuthError) as raised:
        await _collect(answer)
    assert "org:read" in str(raised.value)
    assert TOKEN not in str(raised.value)


def test_options_reject_a_slug_with_a_slash() -> None:
    with pytest.raises(ValidationError):
        SentryOptions.model_validate({"token": TOKEN, "organization": "acme/../x"})
