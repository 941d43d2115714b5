"""Tests of the supabase collector: every case (fake transport and loopback HTTP), HTTP details,
behaviour around the cases, options."""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr, ValidationError
from quota_watch_collectors.supabase.client import retry_after_seconds
from quota_watch_collectors.supabase.collector import SupabaseCollector
from quota_watch_collectors.supabase.options import SupabaseOptions
from quota_watch_collectors.supabase.tests.support import NOW, ORG, REF, TOKEN

from quota_watch.sdk import (
    AuthError,
    CollectContext,
    PeriodKind,
    PeriodSpec,
    ProviderUnavailable,
    RateLimitStatus,
    UnexpectedResponse,
)
from quota_watch.testing import (
    FakeProvider,
    Route,
    account_limits,
    catalogue_limits,
    current_period,
    iter_cases,
    run_case,
)
from quota_watch.testing.cases import Case, CaseResult, check_case, execute_case, load_case

CASES = iter_cases(Path(__file__).parent)
CATALOGUE = catalogue_limits(SupabaseCollector)


@pytest.mark.parametrize("case_dir", CASES, ids=lambda p: p.name)
async def test_case(case_dir: Path) -> None:
    await run_case(SupabaseCollector, case_dir)


@pytest.mark.slow
@pytest.mark.parametrize("case_dir", CASES, ids=lambda p: p.name)
async def test_case_over_http(case_dir: Path) -> None:
    await run_case(SupabaseCollector, case_dir, over_http=True)


# --- helpers -----------------------------------------------------------------------------------


def _case(name: str) -> Case:
    return load_case(Path(__file__).parent / "cases" / name)


def _with(
    case: Case,
    *,
    options: dict[str, Any] | None = None,
    routes: list[Route] | None = None,
    state: dict[str, Any] | None = None,
) -> Case:
    return dataclasses.replace(
        case,
        options={**case.options, **(options or {})},
        routes=tuple(routes) if routes is not None else case.routes,
        state=case.state if state is None else state,
    )


def _replace_route(case: Case, path_end: str, route: Route) -> list[Route]:
    return [route if r.path.endswith(path_end) else r for r in case.routes]


def _messages(result: CaseResult) -> list[str]:
    return [
        r.getMessage() for r in result.log_records if r.name.startswith("quota_watch_collectors")
    ]


# --- HTTP details ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "30", "x-ratelimit-reset": "42"}, 30.0),
        ({"x-ratelimit-reset": "42"}, 42.0),
        (
            {
                "Retry-After": "Sun, 22 Nov 2026 10:01:00 GMT",
                "Date": "Sun, 22 Nov 2026 10:00:30 GMT",
            },
            30.0,
        ),
        ({"Retry-After": "Sun, 22 Nov 2026 10:01:00 GMT"}, 60.0),
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(httpx.Headers(headers), NOW) == expected


async def test_rate_limit_headers_are_reported() -> None:
    provider = FakeProvider(list(_case("ok").routes))
    async with provider.client() as client:
        collector = SupabaseCollector(SupabaseOptions(token=SecretStr(TOKEN)), client, CATALOGUE)
        ctx = _context(state=dict(_case("ok").state))
        await collector.collect(ctx)
    assert ctx.rate_limit == RateLimitStatus(119, 120, NOW + timedelta(seconds=60))
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in provider.requests)


def _context(state: dict[str, Any] | None = None, anchor: int = 1) -> CollectContext:
    spec = PeriodSpec(kind=PeriodKind.BILLING_CYCLE, anchor_day=anchor)
    periods = {
        name: current_period(spec if name in _CYCLE_LIMITS else PeriodSpec(), NOW)
        for name in _LIMITS
    }
    return CollectContext(account="unit", now=NOW, periods=periods, state=state or {})


_LIMITS = [
    "database_size",
    "storage_size",
    "function_invocations",
    "api_requests",
    "inactive_time",
    "active_free_projects",
    "egress",
    "cached_egress",
    "monthly_active_users",
    "realtime_messages",
    "realtime_peak_connections",
]
_CYCLE_LIMITS = {
    "function_invocations",
    "egress",
    "cached_egress",
    "monthly_active_users",
    "realtime_messages",
    "realtime_peak_connections",
}


async def test_probe_lists_organizations() -> None:
    provider = FakeProvider([Route("GET", "/v1/organizations", status=403, body={"message": "x"})])
    async with provider.client() as client:
        collector = SupabaseCollector(SupabaseOptions(token=SecretStr(TOKEN)), client, CATALOGUE)
        with pytest.raises(AuthError, match="Organizations: Read"):
            await collector.probe()


async def test_timeout_is_provider_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        collector = SupabaseCollector(SupabaseOptions(token=SecretStr(TOKEN)), client, CATALOGUE)
        with pytest.raises(ProviderUnavailable) as info:
            await collector.collect(_context())
    assert info.value.__context__ is None and TOKEN not in str(info.value)


async def test_body_that_is_not_json_is_unexpected() -> None:
    provider = FakeProvider(
        [
            Route(
                "GET",
                "/v1/organizations",
                body=b"<html>maintenance</html>",
                headers={"Content-Type": "text/html"},
            )
        ]
    )
    async with provider.client() as client:
        collector = SupabaseCollector(SupabaseOptions(token=SecretStr(TOKEN)), client, CATALOGUE)
        with pytest.raises(UnexpectedResponse, match="not JSON"):
            await collector.collect(_context())


# --- behaviour around the cases ----------------------------------------------------------------


async def test_org_usage_endpoint_gone_falls_back() -> None:
    case = _case("org_usage_fallback")
    routes = _replace_route(
        case,
        "/usage",
        Route(
            "GET", f"/platform/organizations/{ORG}/usage", status=404, body={"message": "Not Found"}
        ),
    )
    result = await execute_case(SupabaseCollector, _with(case, routes=routes))
    check_case(case, result)
    assert any("answered HTTP 404" in m for m in _messages(result))


async def test_subscription_on_another_day_gives_the_readings_its_cycle() -> None:
    case = _case("org_usage")
    routes = [r for r in case.routes if not r.path.endswith("/subscription")]
    start = int(datetime(2026, 11, 8, tzinfo=UTC).timestamp())
    routes.append(
        Route(
            "GET",
            f"/platform/organizations/{ORG}/billing/subscription",
            body={"current_period_start": start, "current_period_end": start + 86400 * 30},
        )
    )
    result = await execute_case(SupabaseCollector, _with(case, routes=routes))
    assert result.error is None
    assert any("billing_anchor_day = 8 would" in m for m in _messages(result))
    egress = next(r for r in result.readings or [] if r.limit == "egress")
    assert (egress.period_start, egress.period_end) == (
        datetime(2026, 11, 8, tzinfo=UTC),
        datetime(2026, 12, 8, tzinfo=UTC),
    )


async def test_a_subscription_period_ending_before_it_starts_is_not_used() -> None:
    case = _case("org_usage")
    routes = [r for r in case.routes if not r.path.endswith("/subscription")]
    start = int(datetime(2026, 11, 8, tzinfo=UTC).timestamp())
    routes.append(
        Route(
            "GET",
            f"/platform/organizations/{ORG}/billing/subscription",
            body={"current_period_start": start, "current_period_end": start},
        )
    )
    result = await execute_case(SupabaseCollector, _with(case, routes=routes))
    assert result.error is None
    assert any("current_period_end is not after" in m for m in _messages(result))
    egress = next(r for r in result.readings or [] if r.limit == "egress")
    assert (egress.period_start, egress.period_end) == (None, None)


async def test_subscription_refused_leaves_period_start_out() -> None:
    case = _case("org_usage")
    routes = _replace_route(
        case,
        "/subscription",
        Route(
            "GET",
            f"/platform/organizations/{ORG}/billing/subscription",
            status=401,
            body={"message": "JWT could not be decoded"},
        ),
    )
    result = await execute_case(SupabaseCollector, _with(case, routes=routes))
    assert result.error is None
    assert all(r.period_start is None for r in result.readings or [])


async def test_logs_endpoint_gone_leaves_invocations_out_and_state_unchanged() -> None:
    case = _case("ok")
    routes = _replace_route(
        case,
        "/endpoints/logs",
        Route(
            "GET",
            f"/v1/projects/{REF}/analytics/endpoints/logs",
            status=410,
            body={"message": "Gone"},
        ),
    )
    result = await execute_case(SupabaseCollector, _with(case, routes=routes))
    assert result.error is None
    assert "function_invocations" not in {r.limit for r in result.readings or []}
    assert result.state["invocations"][REF]["count"] == 10233


async def test_paused_project_whose_logs_fail_is_given_up_for_the_cycle() -> None:
    case = _case("ok")
    state = copy.deepcopy(case.state)
    state["invocations"]["bcdefghijklmnopqrstu"]["paused"] = False  # it paused since the last poll
    routes = [
        *case.routes,
        Route(
            "GET",
            "/v1/projects/bcdefghijklmnopqrstu/analytics/endpoints/logs",
            status=400,
            body={"message": "project is paused"},
        ),
    ]
    result = await execute_case(SupabaseCollector, _with(case, routes=routes, state=state))
    assert result.error is None
    assert "function_invocations" not in {r.limit for r in result.readings or []}
    saved = result.state["invocations"]["bcdefghijklmnopqrstu"]
    assert (saved["complete"], saved["paused"]) == (False, True)


async def test_switches_turn_sources_off() -> None:
    case = _case("ok")
    options = {
        "query_database": False,
        "count_function_invocations_from_logs": False,
        "pause_risk_from_api_counts": False,
    }
    keep = [r for r in case.routes if "read-only" not in r.path and not r.path.endswith("/logs")]
    result = await execute_case(SupabaseCollector, _with(case, options=options, routes=keep))
    assert result.error is None and not result.unmatched
    assert {(r.limit, r.resource) for r in result.readings or []} == {
        ("active_free_projects", None),
        ("api_requests", REF),
    }


async def test_state_is_untouched_when_the_poll_fails() -> None:
    case = _case("logs_backend_error")
    result = await execute_case(SupabaseCollector, case)
    assert isinstance(result.error, UnexpectedResponse)
    assert result.state == case.state


def test_billing_anchor_day_moves_every_billing_cycle() -> None:
    client = httpx.AsyncClient()
    catalogue = catalogue_limits(SupabaseCollector)
    plain = SupabaseCollector(SupabaseOptions(token=SecretStr(TOKEN)), client, catalogue)
    assert account_limits(plain) == catalogue
    same = SupabaseOptions(token=SecretStr(TOKEN), billing_anchor_day=1)
    assert account_limits(SupabaseCollector(same, client, catalogue)) == catalogue
    moved = SupabaseCollector(
        SupabaseOptions(token=SecretStr(TOKEN), billing_anchor_day=15), client, catalogue
    )
    assert moved.declared_limits() is None
    limits = account_limits(moved)
    assert set(limits) == set(_LIMITS)
    for name, spec in limits.items():
        if name in _CYCLE_LIMITS:
            assert spec.period.anchor_day == 15
        else:
            assert spec.period.kind is not PeriodKind.BILLING_CYCLE


# --- options -----------------------------------------------------------------------------------


def test_options_keep_the_token_secret_and_normalise_api_base() -> None:
    options = SupabaseOptions.model_validate(
        {"token": TOKEN, "api_base": "http://127.0.0.1:9999/", "log_delay": "2m"}
    )
    assert options.api_base == "http://127.0.0.1:9999"
    assert options.log_delay == timedelta(minutes=2)
    assert TOKEN not in repr(options) and TOKEN not in options.model_dump_json()


@pytest.mark.parametrize(
    "bad",
    [
        {"api_base": "ftp://api.supabase.com"},
        {"api_base": "https://user:pw@api.supabase.com"},
        {"api_base": "https://api.supabase.com?x=1"},
        {"project_refs": []},
        {"project_refs": ["https://abc.supabase.co"]},
        {"project_refs": [REF, REF]},
        {"billing_anchor_day": 0},
        {"billing_anchor_day": 32},
        {"log_delay": "7h"},
        {"page_size": 0},
        {"unknown": 1},
    ],
)
def test_bad_options_are_rejected(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SupabaseOptions.model_validate({"token": TOKEN, **bad})
