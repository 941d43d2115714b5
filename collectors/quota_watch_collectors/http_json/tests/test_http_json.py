"""Unit tests of the http_json collector on httpx.MockTransport: mapping, errors and secrets."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from quota_watch_collectors.http_json.client import retry_after_seconds
from quota_watch_collectors.http_json.collector import HttpJsonCollector
from quota_watch_collectors.http_json.options import HttpJsonOptions, safe_url

from quota_watch.sdk import (
    AuthError,
    CollectContext,
    CollectorError,
    LimitSpec,
    PeriodKind,
    ProviderUnavailable,
    RateLimited,
    Reading,
    Scope,
    UnexpectedResponse,
)

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
TOKEN = "Bearer s3cr3t-token-value-0123456789"
URL = "https://api.example.com/v1/usage"

Handler = Callable[[httpx.Request], httpx.Response]


def requests_limit(**extra: Any) -> dict[str, Any]:
    return {
        "title": "Requests",
        "unit": "count",
        "measure": "cumulative",
        "period": "daily",
        "cap": "100k",
        "value": "usage.requests",
        **extra,
    }


def options(**overrides: Any) -> HttpJsonOptions:
    raw: dict[str, Any] = {
        "url": URL,
        "headers": {"Authorization": TOKEN},
        "limits": {"requests": requests_limit()},
    }
    raw.update(overrides)
    return HttpJsonOptions.model_validate(raw)


def ctx() -> CollectContext:
    return CollectContext(account="t", now=NOW, periods={})


class Recorder:
    """A MockTransport handler that records requests and answers with a fixed response."""

    def __init__(self, respond: Handler) -> None:
        self.respond = respond
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.respond(request)


def json_response(body: Any, status: int = 200, **headers: str) -> Handler:
    return lambda _request: httpx.Response(status, json=body, headers=headers)


async def collect(opts: HttpJsonOptions, handler: Handler) -> list[Reading]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        return await HttpJsonCollector(opts, client).collect(ctx())


async def collect_error(opts: HttpJsonOptions, handler: Handler) -> CollectorError:
    with pytest.raises(CollectorError) as caught:
        await collect(opts, handler)
    return caught.value


def chain(error: BaseException) -> Iterator[BaseException]:
    current: BaseException | None = error
    while current is not None:
        yield current
        current = current.__cause__ or current.__context__


def assert_no_secret(error: BaseException, *secrets: str) -> None:
    for link in chain(error):
        for text in (str(link), repr(link), repr(link.args)):
            for secret in secrets:
                assert secret not in text, f"{secret!r} leaked in {type(link).__name__}"


# --- mapping ----------------------------------------------------------------------------------


async def test_get_maps_value_and_sends_headers() -> None:
    recorder = Recorder(json_response({"usage": {"requests": 41234}}))
    readings = await collect(options(), recorder)
    assert readings == [Reading("requests", 41234.0)]
    (request,) = recorder.requests
    assert request.method == "GET"
    assert str(request.url) == URL
    assert request.headers["authorization"] == TOKEN
    assert request.content == b""


async def test_post_sends_json_body_and_timeout() -> None:
    recorder = Recorder(json_response({"usage": {"requests": 1}}))
    body = {"operationName": "GetUsage", "variables": {"day": "2026-11-22"}}
    await collect(options(method="post", body=body, timeout="7s"), recorder)
    (request,) = recorder.requests
    assert request.method == "POST"
    assert json.loads(request.content) == body
    assert request.extensions["timeout"]["read"] == 7.0


async def test_scale_applies_to_value_and_cap() -> None:
    limit = {
        "title": "Bandwidth",
        "unit": "bytes",
        "measure": "cumulative",
        "period": {"kind": "calendar_month", "tz": "UTC"},
        "value": "bw.used_gb",
        "cap_path": "bw.quota_gb",
        "scale": 1e9,
    }
    handler = json_response({"bw": {"used_gb": 1.5, "quota_gb": 100}})
    readings = await collect(options(limits={"bandwidth": limit}), handler)
    assert readings == [Reading("bandwidth", 1.5e9, cap=1e11)]


async def test_for_each_yields_one_reading_per_element() -> None:
    limit = {
        "title": "Storage",
        "unit": "bytes",
        "measure": "level",
        "for_each": "items[?kind == 'db']",
        "resource": "id",
        "value": "bytes",
        "cap_path": "max_bytes",
    }
    body = {
        "items": [
            {"id": 7, "kind": "db", "bytes": 10, "max_bytes": 100},
            {"id": "x", "kind": "cache", "bytes": 99},
            {"id": "main", "kind": "db", "bytes": 0, "max_bytes": 100},
        ]
    }
    readings = await collect(options(limits={"storage": limit}), json_response(body))
    assert readings == [
        Reading("storage", 10.0, resource="7", cap=100.0),
        Reading("storage", 0.0, resource="main", cap=100.0),
    ]


async def test_for_each_empty_list_is_no_readings() -> None:
    limit = {**requests_limit(), "for_each": "projects", "resource": "name", "value": "n"}
    readings = await collect(options(limits={"requests": limit}), json_response({"projects": []}))
    assert readings == []


@pytest.mark.parametrize(
    ("body", "got"),
    [
        ({"usage": {}}, "returned null"),
        ({"usage": {"requests": None}}, "returned null"),
        ({"usage": {"requests": "41234"}}, "returned a string"),
        ({"usage": {"requests": True}}, "returned a boolean"),
        ({"usage": {"requests": [1]}}, "returned a list"),
        ({"usage": {"requests": -5}}, "out of range"),
        ({"usage": {"requests": 10**400}}, "out of range"),
        ({"data": None, "errors": [{"message": "Internal error"}]}, "returned null"),
    ],
)
async def test_value_that_is_not_a_number_is_unexpected(body: Any, got: str) -> None:
    error = await collect_error(options(), json_response(body))
    assert isinstance(error, UnexpectedResponse)
    assert "limit 'requests'" in str(error)
    assert "'usage.requests'" in str(error)
    assert got in str(error)


async def test_nan_from_the_payload_is_unexpected() -> None:
    handler: Handler = lambda _r: httpx.Response(200, content=b'{"usage": {"requests": NaN}}')  # noqa: E731
    error = await collect_error(options(), handler)
    assert isinstance(error, UnexpectedResponse)
    assert "out of range" in str(error)


async def test_for_each_not_a_list_is_unexpected() -> None:
    limit = {**requests_limit(), "for_each": "projects", "resource": "name", "value": "n"}
    error = await collect_error(
        options(limits={"requests": limit}), json_response({"projects": {"a": 1}})
    )
    assert isinstance(error, UnexpectedResponse)
    assert "for_each 'projects' returned an object, expected a list" in str(error)


async def test_a_for_each_list_longer_than_max_elements_is_refused() -> None:
    limit = {**requests_limit(), "for_each": "projects", "resource": "name", "value": "n"}
    projects = [{"name": f"p{i}", "n": i} for i in range(4)]
    error = await collect_error(
        options(limits={"requests": limit}, max_elements=3), json_response({"projects": projects})
    )
    assert isinstance(error, UnexpectedResponse)
    assert "4 elements, more than max_elements = 3" in str(error)
    fits = await collect(
        options(limits={"requests": limit}, max_elements=4), json_response({"projects": projects})
    )
    assert len(fits) == 4


@pytest.mark.parametrize(
    ("projects", "message"),
    [
        ([{"name": None, "n": 1}], "resource 'name' in element 0 of for_each returned null"),
        ([{"name": "a", "n": 1}, {"name": "b"}], "value 'n' in element 1 of for_each"),
        ([{"name": "a", "n": 1}, {"name": "a", "n": 2}], "resource 'a' appears twice"),
        ([{"name": "", "n": 1}], "an empty string"),
    ],
)
async def test_for_each_element_drift_is_unexpected(
    projects: list[dict[str, Any]], message: str
) -> None:
    limit = {**requests_limit(), "for_each": "projects", "resource": "name", "value": "n"}
    error = await collect_error(
        options(limits={"requests": limit}), json_response({"projects": projects})
    )
    assert isinstance(error, UnexpectedResponse)
    assert message in str(error)


async def test_jmespath_runtime_error_is_unexpected_without_payload() -> None:
    limit = requests_limit(value="sum(usage.requests)")
    handler = json_response({"usage": {"requests": "very-private-value"}})
    error = await collect_error(options(limits={"requests": limit}), handler)
    assert isinstance(error, UnexpectedResponse)
    assert "JMESPathTypeError" in str(error)
    assert_no_secret(error, "very-private-value")


# --- HTTP status and transport mapping --------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, AuthError),
        (403, AuthError),
        (404, UnexpectedResponse),
        (400, UnexpectedResponse),
        (302, UnexpectedResponse),
        (408, ProviderUnavailable),
        (500, ProviderUnavailable),
        (502, ProviderUnavailable),
        (503, ProviderUnavailable),
    ],
)
async def test_status_mapping(status: int, kind: type[CollectorError]) -> None:
    error = await collect_error(options(), json_response({"error": "x"}, status=status))
    assert type(error) is kind
    assert f"HTTP {status}" in str(error)
    assert "GET https://api.example.com/v1/usage" in str(error)


async def test_custom_auth_statuses() -> None:
    opts = options(auth_statuses=[401, 404])
    assert isinstance(await collect_error(opts, json_response({}, 404)), AuthError)
    assert isinstance(await collect_error(opts, json_response({}, 403)), UnexpectedResponse)


async def test_rate_limited_with_seconds() -> None:
    error = await collect_error(options(), json_response({}, 429, **{"Retry-After": "45"}))
    assert isinstance(error, RateLimited)
    assert error.retry_after == 45.0


async def test_rate_limited_with_http_date_from_now() -> None:
    handler = json_response({}, 429, **{"Retry-After": "Sun, 22 Nov 2026 10:01:30 GMT"})
    error = await collect_error(options(), handler)
    assert isinstance(error, RateLimited)
    assert error.retry_after == 90.0  # measured from ctx.now


async def test_rate_limited_with_http_date_from_response_date() -> None:
    headers = {
        "Retry-After": "Sun, 22 Nov 2026 09:05:00 GMT",
        "Date": "Sun, 22 Nov 2026 09:00:00 GMT",
    }
    error = await collect_error(options(), json_response({}, 429, **headers))
    assert isinstance(error, RateLimited)
    assert error.retry_after == 300.0  # the server's clock, whatever ours says


async def test_rate_limited_without_retry_after() -> None:
    error = await collect_error(options(), json_response({}, 429))
    assert isinstance(error, RateLimited)
    assert error.retry_after is None


@pytest.mark.parametrize(
    ("value", "date", "expected"),
    [
        ("120", None, 120.0),
        ("0", None, 0.0),
        ("-3", None, 0.0),
        ("Sun, 22 Nov 2026 10:00:10 GMT", None, 10.0),
        ("Sun, 22 Nov 2026 09:59:00 GMT", None, 0.0),  # already past
        ("Sunday, 22-Nov-26 10:00:10 GMT", None, 10.0),  # RFC 850 form
        ("Sun, 22 Nov 2026 10:00:10 GMT", "garbage", 10.0),
        ("soon", None, None),
        ("nan", None, None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_retry_after_parsing(value: str | None, date: str | None, expected: float | None) -> None:
    assert retry_after_seconds(value, now=NOW, date=date) == expected


async def test_timeout_is_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    error = await collect_error(options(), handler)
    assert isinstance(error, ProviderUnavailable)
    assert "timed out" in str(error)
    assert error.__context__ is None and error.__cause__ is None


async def test_connection_error_is_unavailable_and_scrubbed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused while sending {TOKEN}", request=request)

    error = await collect_error(options(), handler)
    assert isinstance(error, ProviderUnavailable)
    assert "refused while sending ***" in str(error)
    assert_no_secret(error, TOKEN)


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b"<html>Sign in</html>", {"Content-Type": "text/html"}),
        (b"", {}),
        (b"\xff\xfe\x00garbage", {"Content-Type": "application/json"}),
        (b'{"usage": ', {"Content-Type": "application/json"}),
    ],
)
async def test_body_not_json_is_unexpected(content: bytes, headers: dict[str, str]) -> None:
    error = await collect_error(
        options(), lambda _r: httpx.Response(200, content=content, headers=headers)
    )
    assert isinstance(error, UnexpectedResponse)
    assert "not JSON" in str(error)


async def test_response_over_max_size_is_unexpected() -> None:
    big = {"usage": {"requests": 1}, "pad": "x" * 5000}
    error = await collect_error(options(max_response_size="4 KiB"), json_response(big))
    assert isinstance(error, UnexpectedResponse)
    assert "max_response_size" in str(error)

    def streamed(_request: httpx.Request) -> httpx.Response:
        chunks = [b'{"pad": "', b"x" * 3000, b"x" * 3000, b'"}']
        return httpx.Response(200, stream=httpx.ByteStream(b"".join(chunks)))

    error = await collect_error(options(max_response_size=4096), streamed)
    assert isinstance(error, UnexpectedResponse)


async def test_probe_makes_one_request_with_the_same_mapping() -> None:
    recorder = Recorder(json_response({"usage": {"requests": 3}}))
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        collector = HttpJsonCollector(options(), client)
        await collector.probe()
        assert len(recorder.requests) == 1
        recorder.respond = json_response({"error": "bad token"}, 401)
        with pytest.raises(AuthError):
            await collector.probe()
        recorder.respond = json_response({"usage": {}})
        with pytest.raises(UnexpectedResponse, match=r"usage\.requests"):
            await collector.probe()
        assert len(recorder.requests) == 3


# --- secrets ----------------------------------------------------------------------------------


async def test_secrets_never_in_errors_or_option_reprs() -> None:
    url = "https://user:url-password-42@api.example.com/v1/usage?api_key=query-secret-77#frag"
    opts = options(url=url, headers={"Authorization": TOKEN, "X-Api-Key": "header-secret-99"})
    secrets = (TOKEN, "header-secret-99", "url-password-42", "query-secret-77", "user:")
    for text in (repr(opts), str(opts), repr(opts.headers)):
        for secret in secrets:
            assert secret not in text
    for status in (401, 403, 404, 429, 500):
        error = await collect_error(opts, json_response({"echo": TOKEN}, status))
        assert "https://api.example.com/v1/usage" in str(error)
        assert_no_secret(error, *secrets)
    error = await collect_error(opts, json_response({"usage": {"requests": TOKEN}}))
    assert_no_secret(error, *secrets)


def test_safe_url_drops_userinfo_query_and_fragment() -> None:
    assert safe_url("https://u:p@[::1]:8443/a/b?k=v#f") == "https://[::1]:8443/a/b"
    assert safe_url("http://api.example.com") == "http://api.example.com"


# --- options ----------------------------------------------------------------------------------


def test_invalid_jmespath_is_a_validation_error_naming_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        options(limits={"requests": requests_limit(cap_path="limits.[")})
    (error,) = caught.value.errors()
    assert error["loc"] == ("limits", "requests", "cap_path")
    assert "invalid JMESPath expression 'limits.['" in error["msg"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"limits": {"requests": requests_limit(for_each="items")}}, "for_each needs resource"),
        ({"limits": {"requests": requests_limit(resource="id")}}, "resource applies only"),
        (
            {"limits": {"r": requests_limit(for_each="a", resource="b", scope="account")}},
            "scope must be 'resource'",
        ),
        ({"limits": {"r": requests_limit(scope="resource")}}, "needs for_each"),
        ({"limits": {"Bad-Name": requests_limit()}}, "limit name 'Bad-Name'"),
        ({"limits": {}}, "at least 1 item"),
        ({"limits": {"r": requests_limit(period="none")}}, "cumulative limit needs a period"),
        ({"limits": {"r": requests_limit(scale=0)}}, "greater than 0"),
        ({"limits": {"r": requests_limit(colour="red")}}, "Extra inputs"),
        ({"body": {"q": 1}}, "only with method = 'POST'"),
        ({"method": "PUT"}, "'GET' or 'POST'"),
        ({"url": "ftp://example.com/x"}, "URL scheme"),
        ({"auth_statuses": [429]}, "other than 429"),
        ({"auth_statuses": [200]}, "4xx/5xx"),
        ({"headers": {"Bad Header": "x"}}, "not a valid HTTP header name"),
        ({"headers": {"X-A": "a\r\nX-B: b"}}, "line break"),
        ({"timeout": "soon"}, "not a duration"),
        ({"token": "x"}, "Extra inputs"),
    ],
)
def test_options_validation(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        options(**overrides)


async def test_declared_limits_are_plain_limit_specs() -> None:
    per_project = {
        "title": "Storage",
        "unit": "bytes",
        "measure": "level",
        "cap": "500 MB",
        "for_each": "projects",
        "resource": "name",
        "value": "mb",
        "scale": 1e6,
    }
    opts = options(limits={"requests": requests_limit(), "storage": per_project})
    async with httpx.AsyncClient() as client:
        declared = HttpJsonCollector(opts, client).declared_limits()
    assert set(declared) == {"requests", "storage"}
    assert all(type(spec) is LimitSpec for spec in declared.values())
    assert declared["requests"].cap == 100_000.0
    assert declared["requests"].period.kind is PeriodKind.DAILY
    assert declared["storage"].cap == 5e8
    assert declared["storage"].scope is Scope.RESOURCE
