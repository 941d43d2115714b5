"""Unit tests of the cloudflare collector: query, requests, error mapping, pagination, secrets."""

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
from quota_watch_collectors.cloudflare.options import CloudflareOptions
from quota_watch_collectors.cloudflare.query import GROUP_LIMIT, build_usage_query, r2_windows

from quota_watch.sdk import (
    AuthError,
    CollectContext,
    CollectorError,
    ProviderUnavailable,
    RateLimited,
    Reading,
    UnexpectedResponse,
)
from quota_watch.testing import iter_cases, run_case

HERE = Path(__file__).parent
CASES = HERE / "cases"
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
ACCOUNT = "0123456789abcdef0123456789abcdef"
TOKEN = "s3cr3t-cf-token-0123456789"
BASE = "https://api.cloudflare.com/client/v4"
PROJECTS = f"/client/v4/accounts/{ACCOUNT}/pages/projects"

Handler = Callable[[httpx.Request], httpx.Response]


def options(**overrides: Any) -> CloudflareOptions:
    raw: dict[str, Any] = {"account_id": ACCOUNT, "token": TOKEN, **overrides}
    return CloudflareOptions.model_validate(raw)


def ctx(now: datetime = NOW) -> CollectContext:
    return CollectContext(account="t", now=now, periods={})


def ok_graphql() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CASES / "ok" / "graphql.json").read_text())
    return data


def account(document: dict[str, Any]) -> dict[str, Any]:
    accounts: list[dict[str, Any]] = document["data"]["viewer"]["accounts"]
    return accounts[0]


def envelope(result: Any, **info: int) -> dict[str, Any]:
    body: dict[str, Any] = {"success": True, "errors": [], "messages": [], "result": result}
    if info:
        body["result_info"] = info
    return body


def deployment(ident: str, created: str, trigger: str = "push", **extra: Any) -> dict[str, Any]:
    return {"id": ident, "created_on": created, "deployment_trigger": {"type": trigger}, **extra}


class Provider:
    """A MockTransport handler: GraphQL answer plus REST answers by (path, page)."""

    def __init__(
        self,
        graphql: dict[str, Any] | None = None,
        rest: dict[tuple[str, str], dict[str, Any]] | None = None,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.graphql = graphql if graphql is not None else ok_graphql()
        self.rest = rest or {}
        self.status = status
        self.headers = headers or {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method == "POST":
            return httpx.Response(self.status, json=self.graphql, headers=self.headers)
        key = (request.url.path, request.url.params.get("page", ""))
        if key not in self.rest:
            return httpx.Response(404, json={"success": False, "errors": [], "result": None})
        return httpx.Response(self.status, json=self.rest[key], headers=self.headers)


async def collect(
    opts: CloudflareOptions, handler: Handler, context: CollectContext | None = None
) -> list[Reading]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        return await CloudflareCollector(opts, client).collect(context or ctx())


async def collect_error(
    opts: CloudflareOptions, handler: Handler, context: CollectContext | None = None
) -> CollectorError:
    with pytest.raises(CollectorError) as caught:
        await collect(opts, handler, context)
    return caught.value


async def probe(opts: CloudflareOptions, handler: Handler) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        await CloudflareCollector(opts, client).probe()


def values(readings: list[Reading]) -> dict[tuple[str, str | None], float]:
    return {(r.limit, r.resource): r.value for r in readings}


def assert_no_secret(error: BaseException) -> None:
    current: BaseException | None = error
    while current is not None:
        for text in (str(current), repr(current), repr(current.args)):
            assert TOKEN not in text
        current = current.__cause__ or current.__context__


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


# --- GraphQL errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("opts", "message", "path", "advice"),
    [
        ({}, 'unknown field "activeTime"', None, None),
        ({}, 'unknown field "duration" on type "X"', None, 'do_duration = "activeTime" or "off"'),
        (
            {"do_duration": "activeTime"},
            'unknown field "activeTime"',
            None,
            'do_duration = "duration" or "off"',
        ),
        ({}, 'unknown field "durableObjectsSqlStorageGroups"', None, "include_do_sql = false"),
        ({}, "unknown field", ["viewer", "accounts", "0", "doPeriodic"], "include_do_sql = false"),
        ({}, 'unknown field "requestz"', ["viewer", "accounts", "0", "workers"], None),
    ],
)
async def test_unknown_field_names_the_option(
    opts: dict[str, Any], message: str, path: list[str] | None, advice: str | None
) -> None:
    document = {"data": None, "errors": [{"message": message, "path": path}]}
    error = await collect_error(options(**opts), Provider(document))
    assert isinstance(error, UnexpectedResponse)
    if advice is None:
        assert "set " not in str(error)
    else:
        assert advice in str(error)


async def test_no_access_to_a_guarded_dataset_is_auth_with_advice() -> None:
    document = {
        "data": None,
        "errors": [
            {
                "message": "account does not have access to the path",
                "path": ["viewer", "accounts", "0", "doSqlStorage"],
                "extensions": {"code": "FORBIDDEN"},
            }
        ],
    }
    error = await collect_error(options(), Provider(document))
    assert isinstance(error, AuthError)
    assert "include_do_sql = false" in str(error) and "Account Analytics" in str(error)


@pytest.mark.parametrize(
    ("status", "message", "kind"),
    [
        (200, "too many queries in progress, please try again later", ProviderUnavailable),
        (503, "unable to execute query, please try again later", ProviderUnavailable),
        (400, "query time range is too large", UnexpectedResponse),
        (429, "in combination, your request queries too many nodes", RateLimited),
        (403, "zones [] are not authorized", AuthError),
    ],
)
async def test_graphql_error_classes(status: int, message: str, kind: type[Exception]) -> None:
    document = {"data": None, "errors": [{"message": message}]}
    error = await collect_error(options(), Provider(document, status=status))
    assert isinstance(error, kind)


async def test_provider_text_echoing_the_token_is_scrubbed() -> None:
    document = {"data": None, "errors": [{"message": f"bad header Bearer {TOKEN}"}]}
    error = await collect_error(options(), Provider(document))
    assert_no_secret(error)
    assert "***" in str(error)


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectTimeout("timed out"), httpx.ConnectError(f"refused (token {TOKEN})")],
)
async def test_transport_failures_are_unavailable(failure: Exception) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise failure

    error = await collect_error(options(), handler)
    assert isinstance(error, ProviderUnavailable)
    assert_no_secret(error)
    assert error.__context__ is None and error.__cause__ is None


# --- Pages builds -----------------------------------------------------------------------------


def pages_provider(deployments: dict[str, dict[str, Any]]) -> Provider:
    rest: dict[tuple[str, str], dict[str, Any]] = {
        (PROJECTS, "1"): envelope([{"name": "docs"}], page=1, per_page=10, total_count=1),
    }
    for page, body in deployments.items():
        rest[(f"{PROJECTS}/docs/deployments", page)] = body
    return Provider(rest=rest)


async def test_direct_uploads_counted_on_request() -> None:
    body = envelope(
        [
            deployment("a", "2026-11-21T00:00:00Z", "ad_hoc"),
            deployment("b", "2026-11-20T00:00:00Z", "github:push"),
            deployment("c", "2026-11-19T00:00:00Z", "push", is_skipped=True),
        ],
        page=1,
        total_pages=1,
    )
    default = await collect(options(), pages_provider({"1": body}))
    # "github:push" is not a type the SDK lists: unknown trigger types count as builds.
    assert values(default)[("pages_builds", None)] == 1.0
    counted = await collect(options(pages_count_direct_uploads=True), pages_provider({"1": body}))
    assert values(counted)[("pages_builds", None)] == 2.0


async def test_unsorted_pages_are_all_followed_and_duplicates_dropped() -> None:
    first = envelope(
        [deployment("a", "2026-10-01T00:00:00Z"), deployment("b", "2026-11-03T00:00:00Z")],
        page=1,
        total_pages=2,
    )
    second = envelope(
        [deployment("b", "2026-11-03T00:00:00Z"), deployment("c", "2026-11-04T00:00:00Z")],
        page=2,
        total_pages=2,
    )
    provider = pages_provider({"1": first, "2": second})
    readings = await collect(options(), provider)
    assert values(readings)[("pages_builds", None)] == 2.0
    assert len(provider.requests) == 4


async def test_pagination_ignored_by_the_api_is_an_error() -> None:
    first = envelope([deployment("a", "2026-11-21T00:00:00Z")], page=1, total_pages=3)
    provider = pages_provider({"1": first, "2": first})
    error = await collect_error(options(), provider)
    assert isinstance(error, UnexpectedResponse) and "asked for page 2" in str(error)


async def test_max_pages_bounds_a_listing() -> None:
    pages = {
        str(n): envelope([deployment(f"d{n}", "2026-11-21T00:00:00Z")], page=n, total_pages=9)
        for n in range(1, 10)
    }
    error = await collect_error(options(max_pages=3), pages_provider(pages))
    assert isinstance(error, UnexpectedResponse) and "max_pages" in str(error)


async def test_deployment_without_created_on_is_drift() -> None:
    body = envelope([{"id": "a", "deployment_trigger": {"type": "push"}}], page=1, total_pages=1)
    error = await collect_error(options(), pages_provider({"1": body}))
    assert isinstance(error, UnexpectedResponse) and "created_on" in str(error)


@pytest.mark.parametrize(
    ("status", "errors", "kind"),
    [
        (400, [{"code": 6003, "message": "Invalid request headers"}], AuthError),
        (401, [{"code": 1000, "message": "Invalid API Token"}], AuthError),
        (200, [{"code": 9109, "message": "Unauthorized to access requested resource"}], AuthError),
        (404, [{"code": 7003, "message": "Could not route"}], UnexpectedResponse),
        (429, [], RateLimited),
        (502, [], ProviderUnavailable),
    ],
)
async def test_rest_error_mapping(
    status: int, errors: list[dict[str, Any]], kind: type[Exception]
) -> None:
    body = {"success": False, "errors": errors, "messages": [], "result": None}
    provider = Provider(rest={(PROJECTS, "1"): body})

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return provider(request)
        return httpx.Response(status, json=body)

    error = await collect_error(options(), handler)
    assert isinstance(error, kind)
    if kind is AuthError:
        assert "Cloudflare Pages > Read" in str(error)


# --- probe ------------------------------------------------------------------------------------


def verify(status: str, **extra: Any) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        result = {"id": "ed17574386854bf78a67040be0a770b0", "status": status, **extra}
        body = envelope(result)
        body["messages"] = [{"code": 10000, "message": "This API Token is valid and active"}]
        handler.paths.append(request.url.path)  # type: ignore[attr-defined]
        return httpx.Response(200, json=body)

    handler.paths = []  # type: ignore[attr-defined]
    return handler


async def test_probe_verifies_user_and_account_tokens() -> None:
    handler = verify("active", expires_on="2027-01-01T00:00:00Z")
    await probe(options(), handler)
    await probe(options(token_kind="account"), handler)
    assert handler.paths == [  # type: ignore[attr-defined]
        "/client/v4/user/tokens/verify",
        f"/client/v4/accounts/{ACCOUNT}/tokens/verify",
    ]


@pytest.mark.parametrize("state", ["disabled", "expired"])
async def test_probe_rejects_inactive_tokens(state: str) -> None:
    with pytest.raises(AuthError, match=state):
        await probe(options(), verify(state))


async def test_probe_rejects_a_past_expiry() -> None:
    with pytest.raises(AuthError, match="expired"):
        await probe(options(), verify("active", expires_on="2001-01-01T00:00:00Z"))


async def test_probe_invalid_token() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"success": False, "errors": [{"code": 1000, "message": "Invalid API Token"}]}
        return httpx.Response(401, json=body)

    with pytest.raises(AuthError) as caught:
        await probe(options(), handler)
    assert "Invalid API Token" in str(caught.value)
    assert_no_secret(caught.value)


async def test_probe_drifted_result() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=envelope({"token_state": "active"}))

    with pytest.raises(UnexpectedResponse, match="result"):
        await probe(options(), handler)


async def test_ok_case_does_not_mutate_fixture() -> None:
    document = ok_graphql()
    before = copy.deepcopy(document)
    await collect(options(include_pages_builds=False), Provider(document))
    assert document == before
