"""Unit tests of the netlify collector: cases, headers, pages, plans, periods, secrets."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from quota_watch_collectors.netlify.client import parse_retry_after, rate_limit_status
from quota_watch_collectors.netlify.collector import NetlifyCollector
from quota_watch_collectors.netlify.models import minutes_number
from quota_watch_collectors.netlify.options import NetlifyOptions

from quota_watch.sdk import (
    AuthError,
    CollectContext,
    NoData,
    Period,
    PeriodKind,
    ProviderUnavailable,
    RateLimited,
    RateLimitStatus,
    Reading,
    UnexpectedResponse,
)
from quota_watch.testing import account_limits, catalogue_limits, iter_cases, run_case

CASES = Path(__file__).parent / "cases"
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
TOKEN = "nfp_s3cr3t-token-value-0123456789"
TEAM_ID = "5f1e0000000000000000abcd"
NOV1 = "2026-11-01T00:00:00.000-07:00"
DEC1 = "2026-12-01T00:00:00.000-08:00"
RATE_HEADERS = {
    "X-RateLimit-Limit": "500",
    "X-RateLimit-Remaining": "497",
    "X-RateLimit-Reset": "1795341660",
}

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.mark.parametrize("case_dir", iter_cases(CASES), ids=lambda p: p.name)
async def test_case(case_dir: Path) -> None:
    await run_case(NetlifyCollector, case_dir)


# --- helpers ------------------------------------------------------------------------------------


def options(**overrides: Any) -> NetlifyOptions:
    raw: dict[str, Any] = {"token": TOKEN, "account_slug": "acme-sites"}
    raw.update(overrides)
    return NetlifyOptions.model_validate(raw)


def team(credits: dict[str, float] | None = None, slug: str = "acme-sites") -> dict[str, Any]:
    capabilities: dict[str, Any] = {"sites": {"included": 500, "used": 3}}
    if credits is not None:
        capabilities["credits"] = credits
    return {"id": TEAM_ID, "slug": slug, "name": "Acme", "capabilities": capabilities}


def bandwidth(used: int, start: str = NOV1, end: str = DEC1) -> dict[str, Any]:
    return {
        "used": used,
        "included": 107374182400,
        "additional": 0,
        "last_updated_at": "2026-11-22T09:15:03.237+00:00",
        "period_start_date": start,
        "period_end_date": end,
    }


def builds(current: int, start: str = NOV1, end: str = DEC1) -> list[dict[str, Any]]:
    minutes = {
        "current": current,
        "period_start_date": start,
        "period_end_date": end,
        "included_minutes": "300",
        "included_minutes_with_packs": "300",
    }
    return [{"active": 0, "build_count": 3, "minutes": minutes}]


class Provider:
    """A MockTransport handler answering Netlify paths from a dict; records every request."""

    def __init__(self, answers: dict[str, Handler | Any]) -> None:
        self.answers = answers
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        # Keyed by the path from /api/v1 on, so a proxy prefix in api_base still matches.
        path = request.url.path
        answer = self.answers.get(path[path.find("/api/v1") :] if "/api/v1" in path else path)
        if answer is None:
            return httpx.Response(404, json={"code": 404, "message": "Not Found"})
        if callable(answer):
            response: httpx.Response = answer(request)
            return response
        return httpx.Response(200, json=answer, headers=RATE_HEADERS)


def legacy_provider(**replace: Handler | Any) -> Provider:
    answers: dict[str, Handler | Any] = {
        "/api/v1/accounts": [team()],
        "/api/v1/accounts/acme-sites/bandwidth": bandwidth(1000),
        f"/api/v1/{TEAM_ID}/builds/status": builds(10),
    }
    answers.update({f"/api/v1{k}": v for k, v in replace.items()})
    return Provider(answers)


# The cycle containing NOW for each anchor day, 00:00 Pacific (PDT before Nov 1, PST after).
CYCLES = {
    1: Period(datetime(2026, 11, 1, 7, tzinfo=UTC), datetime(2026, 12, 1, 8, tzinfo=UTC)),
    17: Period(datetime(2026, 11, 17, 8, tzinfo=UTC), datetime(2026, 12, 17, 8, tzinfo=UTC)),
}


def context(collector: NetlifyCollector, now: datetime = NOW) -> CollectContext:
    cycle = CYCLES[collector.options.billing_anchor_day or 1]
    periods = {name: cycle for name in catalogue_limits(NetlifyCollector)}
    return CollectContext(account="t", now=now, periods=periods)


async def collect(
    opts: NetlifyOptions, provider: Provider, now: datetime = NOW
) -> tuple[list[Reading], CollectContext]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(provider)) as client:
        collector = NetlifyCollector(opts, client)
        ctx = context(collector, now)
        return await collector.collect(ctx), ctx


# --- requests and rate limits -------------------------------------------------------------------


async def test_sends_bearer_token_and_builds_urls_from_api_base() -> None:
    provider = legacy_provider()
    await collect(options(api_base="https://proxy.example/netlify/api/v1/"), provider)
    assert [str(r.url) for r in provider.requests] == [
        "https://proxy.example/netlify/api/v1/accounts",
        "https://proxy.example/netlify/api/v1/accounts/acme-sites/bandwidth",
        f"https://proxy.example/netlify/api/v1/{TEAM_ID}/builds/status",
    ]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in provider.requests)


async def test_reports_rate_limit_headers() -> None:
    _, ctx = await collect(options(), legacy_provider())
    assert ctx.rate_limit == RateLimitStatus(
        497.0, 500.0, datetime(2026, 11, 22, 10, 1, tzinfo=UTC)
    )


async def test_rate_limit_is_reported_even_when_the_poll_fails() -> None:
    def limited(_request: httpx.Request) -> httpx.Response:
        headers = {**RATE_HEADERS, "X-RateLimit-Remaining": "0", "Retry-After": "12"}
        return httpx.Response(429, headers=headers)

    provider = legacy_provider(**{"/accounts/acme-sites/bandwidth": limited})
    async with httpx.AsyncClient(transport=httpx.MockTransport(provider)) as client:
        collector = NetlifyCollector(options(), client)
        ctx = context(collector)
        with pytest.raises(RateLimited, match="retry after 12s"):
            await collector.collect(ctx)
    assert ctx.rate_limit is not None and ctx.rate_limit.remaining == 0


def test_rate_limit_status_ignores_missing_or_bad_headers() -> None:
    assert rate_limit_status(httpx.Headers({})) is None
    assert rate_limit_status(httpx.Headers({"X-RateLimit-Remaining": "many"})) is None
    assert rate_limit_status(httpx.Headers({"X-RateLimit-Remaining": "3"})) == (3.0, None, None)
    headers = httpx.Headers({"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "soon"})
    assert rate_limit_status(headers) == (3.0, None, None)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "30"}, 30.0),
        ({"Retry-After": "-5"}, 0.0),
        ({"Retry-After": "Sun, 22 Nov 2026 10:02:00 GMT"}, 120.0),
        ({"Retry-After": "2026-11-22 10:01:00 UTC"}, 60.0),
        (
            {"Retry-After": "2026-11-22 10:01:00 UTC", "Date": "Sun, 22 Nov 2026 09:59:00 GMT"},
            120.0,
        ),
        ({"X-RateLimit-Reset": "1795341630"}, 30.0),
        ({"Retry-After": "whenever", "X-RateLimit-Reset": "1795341630"}, 30.0),
        ({"Retry-After": "whenever"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(httpx.Headers(headers), now=NOW) == expected


# --- pagination ---------------------------------------------------------------------------------


def paged(pages: dict[str, list[dict[str, Any]]], next_of: dict[str, str | None]) -> Handler:
    def answer(request: httpx.Request) -> httpx.Response:
        page = request.url.params.get("page", "1")
        headers = dict(RATE_HEADERS)
        following = next_of.get(page)
        if following is not None:
            headers["Link"] = (
                f'<https://api.netlify.com/api/v1/accounts?page={following}&per_page=1>; rel="next"'
            )
        return httpx.Response(200, json=pages[page], headers=headers)

    return answer


async def test_follows_link_pages_against_api_base_only() -> None:
    other = team(slug="other")
    handler = paged({"1": [other], "2": [other], "3": [team()]}, {"1": "2", "2": "3"})
    provider = legacy_provider(**{"/accounts": handler})
    readings, _ = await collect(options(), provider)
    assert {r.limit for r in readings} == {"bandwidth", "build_minutes"}
    account_requests = [r for r in provider.requests if r.url.path == "/api/v1/accounts"]
    assert [r.url.params.get("page") for r in account_requests] == [None, "2", "3"]
    assert all(r.url.host == "api.netlify.com" for r in account_requests)


async def test_link_loop_is_unexpected() -> None:
    other = team(slug="other")
    handler = paged({"1": [other], "2": [other]}, {"1": "2", "2": "2"})
    with pytest.raises(UnexpectedResponse, match="points back"):
        await collect(options(), legacy_provider(**{"/accounts": handler}))


async def test_too_many_pages_is_unexpected() -> None:
    other = team(slug="other")
    pages = {str(n): [other] for n in range(1, 10)}
    handler = paged(pages, {str(n): str(n + 1) for n in range(1, 9)})
    with pytest.raises(UnexpectedResponse, match="max_pages"):
        await collect(options(max_pages=3), legacy_provider(**{"/accounts": handler}))


async def test_accounts_without_slugs_is_drift_not_auth() -> None:
    provider = legacy_provider(**{"/accounts": [{"id": "x", "team_slug": "acme-sites"}]})
    with pytest.raises(UnexpectedResponse, match="slug"):
        await collect(options(), provider)


async def test_accounts_object_instead_of_list_is_unexpected() -> None:
    provider = legacy_provider(**{"/accounts": {"teams": []}})
    with pytest.raises(UnexpectedResponse, match="JSON array"):
        await collect(options(), provider)


# --- plans and credits --------------------------------------------------------------------------


async def test_plan_legacy_overrides_credit_detection() -> None:
    provider = legacy_provider(**{"/accounts": [team(credits={"included": 300, "used": 0})]})
    readings, _ = await collect(options(plan="legacy"), provider)
    assert {r.limit for r in readings} == {"bandwidth", "build_minutes"}


async def test_plan_credits_without_credits_field_is_no_data() -> None:
    with pytest.raises(NoData, match=r"capabilities\.credits"):
        await collect(options(plan="credits"), legacy_provider())


async def test_credits_zero_with_only_build_minutes_as_evidence_is_unknown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider = legacy_provider(
        **{
            "/accounts": [team(credits={"included": 300, "used": 0})],
            "/accounts/acme-sites/bandwidth": bandwidth(0),
            f"/{TEAM_ID}/builds/status": builds(7),
        }
    )
    with caplog.at_level(logging.WARNING), pytest.raises(NoData, match="open-api#640"):
        await collect(options(), provider)
    assert "7 build minutes" in caplog.text


async def test_credits_zero_with_bandwidth_switched_off_is_unknown() -> None:
    provider = legacy_provider(
        **{
            "/accounts": [team(credits={"included": 300, "used": 0})],
            f"/{TEAM_ID}/builds/status": builds(0),
        }
    )
    with pytest.raises(NoData, match="could not be read"):
        await collect(options(bandwidth_endpoint=False), provider)
    assert all("bandwidth" not in r.url.path for r in provider.requests)


async def test_credits_without_included_fall_back_to_catalogue_cap() -> None:
    provider = legacy_provider(**{"/accounts": [team(credits={"used": 12})]})
    readings, _ = await collect(options(), provider)
    assert readings == [Reading("credits", 12.0, cap=None)]


# --- periods ------------------------------------------------------------------------------------


def test_declared_limits_follow_billing_anchor_day() -> None:
    catalogue = catalogue_limits(NetlifyCollector)
    collector = NetlifyCollector(options(), httpx.AsyncClient(), catalogue)
    assert account_limits(collector) == catalogue
    anchored = NetlifyCollector(options(billing_anchor_day=17), httpx.AsyncClient(), catalogue)
    assert anchored.declared_limits() is None
    limits = account_limits(anchored)
    assert set(limits) == {"bandwidth", "build_minutes", "credits"}
    for spec in limits.values():
        assert spec.period.kind is PeriodKind.BILLING_CYCLE
        assert spec.period.anchor_day == 17
        assert spec.period.tz == "America/Los_Angeles"
    assert limits["bandwidth"].cap == 100 * 2**30


async def test_the_apis_cycle_is_carried_without_billing_anchor_day(
    caplog: pytest.LogCaptureFixture,
) -> None:
    start, end = "2026-11-17T00:00:00.000-08:00", "2026-12-17T00:00:00.000-08:00"
    provider = legacy_provider(
        **{
            "/accounts/acme-sites/bandwidth": bandwidth(5, start, end),
            f"/{TEAM_ID}/builds/status": builds(1, start, end),
        }
    )
    with caplog.at_level(logging.INFO):
        readings, _ = await collect(options(), provider)
    assert {(r.period_start, r.period_end, r.period_zone) for r in readings} == {
        (
            datetime(2026, 11, 17, 8, tzinfo=UTC),
            datetime(2026, 12, 17, 8, tzinfo=UTC),
            "America/Los_Angeles",
        )
    }
    assert "WARNING" not in caplog.text
    assert caplog.text.count("billing_anchor_day = 17") == 1


async def test_no_anchor_warning_when_configured(caplog: pytest.LogCaptureFixture) -> None:
    start, end = "2026-11-17T00:00:00.000-08:00", "2026-12-17T00:00:00.000-08:00"
    provider = legacy_provider(
        **{
            "/accounts/acme-sites/bandwidth": bandwidth(5, start, end),
            f"/{TEAM_ID}/builds/status": builds(1, start, end),
        }
    )
    with caplog.at_level(logging.WARNING):
        await collect(options(billing_anchor_day=17), provider)
    assert "billing_anchor_day" not in caplog.text


# --- errors and secrets -------------------------------------------------------------------------


async def test_timeout_is_unavailable_without_secrets() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout(f"timed out with {request.headers['authorization']}")

    with pytest.raises(ProviderUnavailable) as caught:
        await collect(options(), legacy_provider(**{"/accounts": timeout}))
    assert TOKEN not in str(caught.value)
    assert caught.value.__context__ is None and caught.value.__cause__ is None


async def test_connection_error_message_is_scrubbed() -> None:
    def refused(_request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused for {TOKEN}")

    with pytest.raises(ProviderUnavailable) as caught:
        await collect(options(), legacy_provider(**{"/accounts": refused}))
    assert TOKEN not in str(caught.value) and "***" in str(caught.value)


async def test_api_error_message_is_scrubbed() -> None:
    def rejected(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"code": 401, "message": f"bad token {TOKEN}"})

    with pytest.raises(AuthError) as caught:
        await collect(options(), legacy_provider(**{"/accounts": rejected}))
    assert TOKEN not in str(caught.value)


async def test_not_json_is_unexpected() -> None:
    def html(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>login</html>", headers={"Content-Type": "text/html"})

    with pytest.raises(UnexpectedResponse, match="not JSON"):
        await collect(options(), legacy_provider(**{"/accounts": html}))


async def test_bandwidth_forbidden_suggests_switching_it_off() -> None:
    def forbidden(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"code": 403, "message": "Forbidden"})

    provider = legacy_provider(**{"/accounts/acme-sites/bandwidth": forbidden})
    with pytest.raises(AuthError, match="bandwidth_endpoint = false") as caught:
        await collect(options(), provider)
    assert caught.value.__context__ is None


async def test_builds_status_404_is_unexpected() -> None:
    provider = legacy_provider()
    del provider.answers[f"/api/v1/{TEAM_ID}/builds/status"]
    with pytest.raises(UnexpectedResponse, match="HTTP 404"):
        await collect(options(), provider)


async def test_probe_finds_the_team_and_maps_auth_errors() -> None:
    provider = legacy_provider()
    async with httpx.AsyncClient(transport=httpx.MockTransport(provider)) as client:
        await NetlifyCollector(options(), client).probe()
        with pytest.raises(AuthError, match="not among the teams"):
            await NetlifyCollector(options(account_slug="someone-else"), client).probe()
    assert {r.url.path for r in provider.requests} == {"/api/v1/accounts"}


def test_options_repr_hides_the_token_and_rejects_bad_values() -> None:
    opts = options()
    assert TOKEN not in repr(opts) and TOKEN not in opts.model_dump_json()
    for bad in (
        {"account_slug": "acme/../x"},
        {"api_base": "ftp://api.netlify.com"},
        {"api_base": "https://user:pw@api.netlify.com/api/v1"},
        {"billing_anchor_day": 32},
        {"plan": "pro"},
        {"api_token": "x"},
    ):
        with pytest.raises(ValidationError):
            options(**bad)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("300", 300.0), (300, 300.0), (" 25000 ", 25000.0), ("", None), (None, None)],
)
def test_minutes_number_accepts_strings_and_numbers(value: Any, expected: float | None) -> None:
    assert minutes_number(value) == expected


@pytest.mark.parametrize("value", ["unlimited", -1, True, float("nan"), [300]])
def test_minutes_number_rejects_other_values(value: Any) -> None:
    with pytest.raises(ValueError):
        minutes_number(value)


async def test_slug_matches_case_insensitively_and_api_slug_is_used() -> None:
    provider = legacy_provider()
    readings, _ = await collect(options(account_slug="Acme-Sites"), provider)
    assert {r.limit for r in readings} == {"bandwidth", "build_minutes"}
    assert "/api/v1/accounts/acme-sites/bandwidth" in [r.url.path for r in provider.requests]
