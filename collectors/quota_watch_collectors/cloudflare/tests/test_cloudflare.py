"""Unit tests of the cloudflare collector: cases, options, query, requests, mapping."""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from quota_watch_collectors.cloudflare.client import parse_rate_limit, retry_after_seconds
from quota_watch_collectors.cloudflare.collector import CloudflareCollector, r2_class
from quota_watch_collectors.cloudflare.query import GROUP_LIMIT, build_usage_query, r2_windows
from quota_watch_collectors.cloudflare.tests.support import (
    ACCOUNT,
    HERE,
    NOW,
    PROJECTS,
    TOKEN,
    Provider,
    account,
    collect,
    collect_error,
    ctx,
    deployment,
    envelope,
    ok_graphql,
    options,
    values,
)

from quota_watch.sdk import CollectContext, RateLimited, UnexpectedResponse
from quota_watch.testing import iter_cases, run_case

# --- the case folders -------------------------------------------------------------------------


@pytest.mark.parametrize("case_dir", iter_cases(HERE.parent), ids=lambda p: p.name)
async def test_case(case_dir: Path) -> None:
    await run_case(CloudflareCollector, case_dir)


# --- options ----------------------------------------------------------------------------------


def test_options_hide_the_token_and_forbid_unknown_keys() -> None:
    opts = options()
    assert TOKEN not in repr(opts) and TOKEN not in opts.model_dump_json()
    with pytest.raises(ValidationError):
        options(api_token=TOKEN)
    with pytest.raises(ValidationError):
        options(account_id="not-an-account")
    with pytest.raises(ValidationError):
        options(api_base="https://user:pw@api.example.com/client/v4")
    with pytest.raises(ValidationError):
        options(token="line\nbreak-token")
    assert options(account_id=ACCOUNT.upper()).account_id == ACCOUNT
    assert options(api_base="http://127.0.0.1:9/client/v4/").api_base.endswith("/client/v4")


# --- the query --------------------------------------------------------------------------------


def test_query_windows_and_switches() -> None:
    day = datetime(2026, 11, 22, tzinfo=UTC)
    month = datetime(2026, 11, 1, tzinfo=UTC)
    full = build_usage_query(options(), now=NOW, day_start=day, month_start=month)
    assert full.document.startswith("query QuotaWatchUsage($accountTag: string!)")
    assert full.variables == {"accountTag": ACCOUNT}
    workers = full.part("workers")
    assert workers is not None
    assert (
        workers.filter
        == 'datetime_geq: "2026-11-22T00:00:00Z", datetime_lt: "2026-11-22T10:00:00Z"'
    )
    assert full.r2_aliases == ("r2Operations0", "r2Operations1", "r2Operations2", "r2Operations3")
    for alias in ("pagesFunctions", "doPeriodic", "doSqlStorage"):
        assert f"{alias}:" in full.document
    assert "sum { duration rowsRead rowsWritten }" in full.document

    bare = build_usage_query(
        options(include_pages_functions=False, do_duration="off", include_do_sql=False),
        now=NOW,
        day_start=day,
        month_start=month,
    )
    for name in ("pagesFunctions", "durableObjectsPeriodicGroups", "durableObjectsSqlStorage"):
        assert name not in bare.document
    assert bare.hints == {}

    active = build_usage_query(
        options(do_duration="activeTime", include_do_sql=False),
        now=NOW,
        day_start=day,
        month_start=month,
    )
    assert "sum { activeTime }" in active.document


def test_r2_windows_tile_the_month() -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    end = datetime(2026, 11, 30, 23, 59, tzinfo=UTC)
    windows = r2_windows(start, end, timedelta(days=7))
    assert len(windows) == 5
    assert windows[0][0] == start and windows[-1][1] == end
    assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))
    assert r2_windows(start, start, timedelta(days=7)) == [(start, start)]
    assert len(r2_windows(start, end, timedelta(days=31))) == 1


# --- requests ---------------------------------------------------------------------------------


async def test_requests_carry_token_operation_and_pages() -> None:
    provider = Provider(
        rest={
            (f"/cf{PROJECTS}", "1"): envelope([{"name": "my site"}], page=1, total_pages=1),
            (f"/cf{PROJECTS}/my site/deployments", "1"): envelope(
                [deployment("d1", "2026-11-21T00:00:00Z")], page=1, total_pages=1
            ),
        }
    )
    readings = await collect(options(api_base="https://proxy.example/cf/client/v4"), provider)
    assert values(readings)[("pages_builds", None)] == 1.0
    graphql, projects, deployments = provider.requests
    assert str(graphql.url) == "https://proxy.example/cf/client/v4/graphql"
    assert graphql.headers["authorization"] == f"Bearer {TOKEN}"
    body = json.loads(graphql.content)
    assert body["operationName"] == "QuotaWatchUsage"
    assert body["variables"] == {"accountTag": ACCOUNT}
    assert "query QuotaWatchUsage" in body["query"]
    assert projects.url.path == f"/cf{PROJECTS}" and projects.url.params["page"] == "1"
    assert deployments.url.raw_path.startswith(b"/cf/client/v4/accounts/")
    assert b"/my%20site/deployments" in deployments.url.raw_path


async def test_rate_limit_headers_are_reported() -> None:
    headers = {"Ratelimit": '"default";r=1190;t=280', "Ratelimit-Policy": '"default";q=1200;w=300'}
    provider = Provider(rest={(PROJECTS, "1"): envelope([])}, headers=headers)
    context = ctx()
    await collect(options(), provider, context)
    assert context.rate_limit is not None
    assert context.rate_limit.remaining == 1190
    assert context.rate_limit.limit == 1200
    assert context.rate_limit.resets_at == NOW + timedelta(seconds=280)


async def test_rate_limit_is_reported_even_when_the_poll_fails() -> None:
    headers = {"Retry-After": "300", "Ratelimit": '"default";r=0;t=300'}
    provider = Provider({"data": None, "errors": [{"message": "x"}]}, status=429, headers=headers)
    context = ctx()
    error = await collect_error(options(), provider, context)
    assert isinstance(error, RateLimited) and error.retry_after == 300
    assert context.rate_limit is not None and context.rate_limit.remaining == 0


def test_parse_rate_limit_forms() -> None:
    both = httpx.Headers(
        {
            "Ratelimit": '"default";r=50;t=30, "burst";r=3;t=1',
            "Ratelimit-Policy": '"default";q=1200;w=300, "burst";q=100;w=60',
        }
    )
    status = parse_rate_limit(both, NOW)
    assert status is not None
    assert (status.remaining, status.limit) == (3, 100)
    assert status.resets_at == NOW + timedelta(seconds=1)
    legacy = httpx.Headers(
        {
            "X-RateLimit-Remaining": "7",
            "X-RateLimit-Limit": "1200",
            "X-RateLimit-Reset": "Sun, 22 Nov 2026 10:05:00 GMT",
        }
    )
    status = parse_rate_limit(legacy, NOW)
    assert status is not None and (status.remaining, status.limit) == (7, 1200)
    assert status.resets_at == NOW + timedelta(minutes=5)
    assert parse_rate_limit(httpx.Headers({"Ratelimit": "garbage"}), NOW) is None
    assert parse_rate_limit(httpx.Headers(), NOW) is None


def test_retry_after_forms() -> None:
    assert retry_after_seconds("30", now=NOW) == 30
    date = "Sun, 22 Nov 2026 10:02:00 GMT"
    assert retry_after_seconds(date, now=NOW, date="Sun, 22 Nov 2026 10:00:00 GMT") == 120
    assert retry_after_seconds("soon", now=NOW) is None
    assert retry_after_seconds(None, now=NOW) is None


# --- mapping ----------------------------------------------------------------------------------


async def test_periods_come_from_the_context() -> None:
    from quota_watch.sdk import Period

    start = datetime(2026, 11, 15, tzinfo=UTC)  # e.g. a billing cycle anchored on the 15th
    periods = {
        "workers_requests": Period(datetime(2026, 11, 22, tzinfo=UTC), None),
        "r2_class_a_operations": Period(start, None),
        "pages_builds": Period(start, None),
    }
    provider = Provider(rest={(PROJECTS, "1"): envelope([])})
    context = CollectContext(account="t", now=NOW, periods=periods)
    readings = await collect(options(), provider, context)
    query = json.loads(provider.requests[0].content)["query"]
    assert (
        'r2Operations0: r2OperationsAdaptiveGroups(limit: 1000, filter: {datetime_geq: "2026-11-15'
        in (query)
    )
    starts = {r.limit: r.period_start for r in readings}
    assert starts["r2_class_a_operations"] == start and starts["pages_builds"] == start


def test_r2_classes() -> None:
    assert r2_class("PutObject") == "r2_class_a_operations"
    assert r2_class("ListObjects") == "r2_class_a_operations"
    assert r2_class("GetObject") == "r2_class_b_operations"
    assert r2_class("DeleteObject") is None
    assert r2_class("GetBucketSippyConfiguration") == "r2_class_a_operations"


async def test_truncated_dataset_is_an_error() -> None:
    document = ok_graphql()
    row = account(document)["kv"][0]
    account(document)["kv"] = [row] * GROUP_LIMIT
    error = await collect_error(options(include_pages_builds=False), Provider(document))
    assert isinstance(error, UnexpectedResponse) and "truncated" in str(error)


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda a: a.pop("queues"), "queues"),
        (lambda a: a.__setitem__("d1", None), "d1"),
        (lambda a: a["doPeriodic"][0]["sum"].pop("duration"), "doPeriodic[0].sum.duration"),
        (lambda a: a["r2Storage"][0]["max"].__setitem__("payloadSize", True), "payloadSize"),
        (lambda a: a["d1Storage"][0]["max"].__setitem__("databaseSizeBytes", -1), "databaseSize"),
    ],
)
async def test_drift_is_named(mutate: Callable[[dict[str, Any]], Any], needle: str) -> None:
    document = ok_graphql()
    mutate(account(document))
    error = await collect_error(options(include_pages_builds=False), Provider(document))
    assert isinstance(error, UnexpectedResponse)
    assert needle in str(error)


async def test_account_missing_from_answer() -> None:
    provider = Provider({"data": {"viewer": {"accounts": []}}, "errors": None})
    error = await collect_error(options(), provider)
    assert isinstance(error, UnexpectedResponse) and "1 account" in str(error)


async def test_body_not_json_is_unexpected() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>login</html>")

    error = await collect_error(options(), handler)
    assert isinstance(error, UnexpectedResponse)


async def test_ok_case_does_not_mutate_fixture() -> None:
    document = ok_graphql()
    before = copy.deepcopy(document)
    await collect(options(include_pages_builds=False), Provider(document))
    assert document == before
