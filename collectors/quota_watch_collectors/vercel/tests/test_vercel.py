"""Unit tests of the vercel collector on httpx.MockTransport: window, table, parsing, errors."""

from __future__ import annotations

import gzip
import json
import logging
import tomllib
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from quota_watch_collectors.vercel.client import (
    MAX_LINE_BYTES,
    format_instant,
    rate_limit_status,
    retry_after_seconds,
)
from quota_watch_collectors.vercel.collector import VercelCollector, usage_window
from quota_watch_collectors.vercel.options import (
    DEFAULT_SERVICES,
    LIMIT_KEYS,
    ServiceMatch,
    VercelOptions,
    normalize_unit,
)

from quota_watch.sdk import (
    AuthError,
    CollectContext,
    NoData,
    Period,
    ProviderUnavailable,
    RateLimited,
    Reading,
    UnexpectedResponse,
)
from quota_watch.testing import iter_cases, run_case

FOLDER = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
TOKEN = "fake-vercel-token-0123456789"
TEAM = "team_fake0123456789"

Handler = Callable[[httpx.Request], httpx.Response]


def row(service: str, quantity: Any, unit: str | None, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "BilledCost": 0,
        "BillingCurrency": "USD",
        "ChargeCategory": "Usage",
        "ChargePeriodStart": "2026-11-21T08:00:00.000Z",
        "ChargePeriodEnd": "2026-11-22T08:00:00.000Z",
        "ConsumedQuantity": quantity,
        "ConsumedUnit": unit,
        "EffectiveCost": 0,
        "PricingCategory": "Standard",
        "PricingCurrency": "USD",
        "PricingQuantity": 0,
        "PricingUnit": "MIUs",
        "RegionId": "iad1",
        "RegionName": "Washington, D.C., USA",
        "ServiceCategory": "Networking",
        "ServiceName": service,
        "ServiceProviderName": "Vercel",
        "Tags": {"ProjectId": "prj_blog0001", "ProjectName": "blog"},
    }
    base.update(extra)
    return base


def jsonl(*rows: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def options(**overrides: Any) -> VercelOptions:
    raw: dict[str, Any] = {"token": TOKEN, "team_id": TEAM, **overrides}
    return VercelOptions.model_validate(raw)


def context(now: datetime = NOW) -> CollectContext:
    return CollectContext(
        account="test",
        now=now,
        periods={key: Period(now - timedelta(days=30), now) for key in LIMIT_KEYS},
    )


def answer(body: bytes = b"", status: int = 200, headers: dict[str, str] | None = None) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status,
            headers=headers or {"Content-Type": "application/jsonl"},
            content=body,
        )

    return handle


class Recorder:
    """A MockTransport handler that records requests and answers with `handler`."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)


async def collect(
    handler: Handler, ctx: CollectContext | None = None, **option_overrides: Any
) -> list[Reading]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        collector = VercelCollector(options(**option_overrides), client)
        return await collector.collect(ctx or context())


def by_limit(readings: list[Reading]) -> dict[str, float]:
    return {r.limit: r.value for r in readings}


# --- cases ------------------------------------------------------------------------------------


@pytest.mark.parametrize("case_dir", iter_cases(FOLDER), ids=lambda p: p.name)
async def test_case(case_dir: Path) -> None:
    await run_case(VercelCollector, case_dir)


# --- the window -------------------------------------------------------------------------------


def test_window_is_thirty_la_days_ending_today() -> None:
    start, end = usage_window(NOW, 30, "America/Los_Angeles")
    # 2026-11-22T10:00Z is 02:00 PST on Nov 22; 29 days earlier is Oct 24, still PDT.
    assert start == datetime(2026, 10, 24, 7, 0, tzinfo=UTC)
    assert end == NOW


def test_window_uses_the_local_date_not_the_utc_one() -> None:
    # 05:00Z on Nov 22 is still Nov 21 in Los Angeles (21:00 PST).
    start, _ = usage_window(datetime(2026, 11, 22, 5, 0, tzinfo=UTC), 1, "America/Los_Angeles")
    assert start == datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


def test_window_in_utc() -> None:
    start, _ = usage_window(NOW, 7, "UTC")
    assert start == datetime(2026, 11, 16, tzinfo=UTC)


def test_format_instant_is_utc_with_milliseconds() -> None:
    moment = datetime(2026, 10, 24, 0, 0, 0, 123456, tzinfo=UTC) + timedelta(hours=7)
    assert format_instant(moment) == "2026-10-24T07:00:00.123Z"


# --- options and the table --------------------------------------------------------------------


def test_table_covers_exactly_the_catalogue() -> None:
    with (FOLDER / "limits.toml").open("rb") as handle:
        catalogue = tomllib.load(handle)
    assert set(catalogue["limits"]) == LIMIT_KEYS


def test_account_tables_replace_only_their_own_limit() -> None:
    opts = options(services={"edge_requests": {"names": ["Requests"], "units": {"req": 1}}})
    assert opts.services["edge_requests"].names == ("Requests",)
    assert opts.services["fast_data_transfer"] == DEFAULT_SERVICES["fast_data_transfer"]


@pytest.mark.parametrize(
    ("services", "problem"),
    [
        ({"bandwidth": {"names": ["X"], "units": {"GB": 1e9}}}, "unknown limit"),
        ({"edge_requests": {"names": ["Function Invocations"], "units": {"r": 1}}}, "both"),
        ({"edge_requests": {"names": ["Edge Requests"], "units": {}}}, "at least 1"),
        ({"edge_requests": {"names": ["Edge Requests"], "units": {"r": 0}}}, "> 0"),
        ({"edge_requests": {"names": [" "], "units": {"r": 1}}}, "empty"),
    ],
)
def test_bad_service_tables_are_refused(services: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        options(services=services)


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"token": ""}, "empty"),
        ({"token": "abc def-ghijk"}, "whitespace"),
        ({"team_id": "team abc"}, "team id"),
        ({"api_base": "ftp://api.vercel.com"}, "http"),
        ({"api_base": "https://api.vercel.com/?x=1"}, "query"),
        ({"window_days": 0}, "greater than or equal"),
        ({"billing_tz": "Mars/Olympus"}, "time zone"),
        ({"extra": 1}, "Extra inputs"),
    ],
)
def test_bad_options_are_refused(overrides: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        options(**overrides)


def test_token_is_redacted_and_api_base_trimmed() -> None:
    opts = options(api_base="https://proxy.example/vercel/")
    assert opts.api_base == "https://proxy.example/vercel"
    assert TOKEN not in repr(opts)
    assert TOKEN not in opts.model_dump_json()


def test_units_match_ignoring_case_spaces_and_dashes() -> None:
    factors = ServiceMatch(names=("X",), units={"GB-Hours": 3600}).unit_factors()
    assert factors[normalize_unit("gb hours")] == 3600
    assert factors[normalize_unit("GB_HOURS")] == 3600


# --- request ----------------------------------------------------------------------------------


async def test_request_carries_window_team_token_and_accept() -> None:
    recorder = Recorder(answer(jsonl(row("Edge Requests", 5, "Requests"))))
    await collect(recorder)
    (request,) = recorder.requests
    assert request.url.path == "/v1/billing/charges"
    assert dict(request.url.params) == {
        "from": "2026-10-24T07:00:00.000Z",
        "to": "2026-11-22T10:00:00.000Z",
        "teamId": TEAM,
    }
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["accept"] == "application/jsonl"


async def test_no_team_id_sends_no_team_parameter() -> None:
    recorder = Recorder(answer(jsonl(row("Edge Requests", 5, "Requests"))))
    await collect(recorder, team_id=None)
    assert "teamId" not in recorder.requests[0].url.params


async def test_api_base_path_is_kept() -> None:
    recorder = Recorder(answer(jsonl(row("Edge Requests", 5, "Requests"))))
    await collect(recorder, api_base="https://proxy.example/vercel")
    assert recorder.requests[0].url.path == "/vercel/v1/billing/charges"


# --- rows -------------------------------------------------------------------------------------


async def test_sums_and_converts_per_limit_with_period_start() -> None:
    body = jsonl(
        row("Edge Requests", 10, "Requests"),
        row("edge  REQUESTS", 5, "requests"),
        row("Fast Data Transfer", 900, "MB"),
        row("Fast Data Transfer", "2", "GB"),  # FOCUS decimals may arrive as strings
        row("Active CPU", 1.5, "CPU-Hours"),
    )
    readings = await collect(answer(body))
    assert by_limit(readings) == {
        "edge_requests": 15.0,
        "fast_data_transfer": 2.9e9,
        "active_cpu": 5400.0,
    }
    assert {r.period_start for r in readings} == {datetime(2026, 10, 24, 7, tzinfo=UTC)}
    assert all(r.cap is None for r in readings)


async def test_rows_that_are_not_usage_are_ignored() -> None:
    body = jsonl(
        row("Edge Requests", 10, "Requests"),
        row("Edge Requests", None, None, ChargeCategory="Credit"),
        row("Fast Data Transfer", 99, "GB", ChargeCategory="Adjustment"),
    )
    assert by_limit(await collect(answer(body))) == {"edge_requests": 10.0}


async def test_usage_rows_without_quantity_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    body = jsonl(row("Edge Requests", 10, "Requests"), row("Fast Data Transfer", None, None))
    with caplog.at_level(logging.INFO):
        readings = await collect(answer(body))
    assert by_limit(readings) == {"edge_requests": 10.0}
    assert "fast_data_transfer (1 rows without ConsumedQuantity)" in caplog.text


async def test_a_negative_total_is_left_out(caplog: pytest.LogCaptureFixture) -> None:
    body = jsonl(row("Edge Requests", 10, "Requests"), row("Fast Data Transfer", -3, "GB"))
    readings = await collect(answer(body))
    assert by_limit(readings) == {"edge_requests": 10.0}
    assert "fast_data_transfer left out" in caplog.text


async def test_a_switched_off_limit_is_neither_read_nor_zeroed() -> None:
    body = jsonl(row("Edge Requests", 10, "Requests"), row("Fast Data Transfer", 1, "GB"))
    readings = await collect(
        answer(body),
        absent_service_is_zero=True,
        services={"fast_data_transfer": {"names": [], "units": {"GB": 1e9}}},
    )
    values = by_limit(readings)
    assert "fast_data_transfer" not in values
    assert values["edge_requests"] == 10.0
    assert values["function_invocations"] == 0.0


async def test_unknown_services_are_logged_once_per_collector(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = jsonl(row("Edge Requests", 1, "Requests"), row("Blob Operations", 3, "Operations"))
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer(body))) as client:
        collector = VercelCollector(options(), client)
        with caplog.at_level(logging.DEBUG):
            await collector.collect(context())
            await collector.collect(context())
    mentions = [r for r in caplog.records if "Blob Operations" in r.getMessage()]
    assert len(mentions) == 1
    assert mentions[0].levelno == logging.DEBUG


async def test_absent_limits_are_logged_at_info_only_when_they_change(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = jsonl(row("Edge Requests", 1, "Requests"))
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer(body))) as client:
        collector = VercelCollector(options(), client)
        with caplog.at_level(logging.DEBUG):
            await collector.collect(context())
            await collector.collect(context())
    levels = [r.levelno for r in caplog.records if "left out (no rows" in r.getMessage()]
    assert levels == [logging.INFO, logging.DEBUG]


async def test_empty_body_is_no_data_never_zero() -> None:
    with pytest.raises(NoData, match="no usage rows for this Hobby team"):
        await collect(answer(b"\n\n"), absent_service_is_zero=True)


# --- parsing the stream -----------------------------------------------------------------------


class Chunks(httpx.AsyncByteStream):
    """A response body delivered in the given chunks."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk


def chunked(chunks: list[bytes]) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Chunks(chunks))

    return handle


async def test_lines_split_across_chunks_are_joined() -> None:
    body = jsonl(row("Edge Requests", 7, "Requests"), row("Edge Requests", 3, "Requests"))
    pieces = [body[i : i + 13] for i in range(0, len(body), 13)]
    assert by_limit(await collect(chunked(pieces))) == {"edge_requests": 10.0}


async def test_an_overlong_line_is_refused() -> None:
    with pytest.raises(UnexpectedResponse, match="line 1 is longer"):
        await collect(chunked([b"x" * (MAX_LINE_BYTES // 2)] * 3))


async def test_a_non_json_line_is_named_by_number_not_content() -> None:
    body = jsonl(row("Edge Requests", 7, "Requests")) + b"secret-looking garbage\n"
    with pytest.raises(UnexpectedResponse) as caught:
        await collect(answer(body))
    assert "line 2 is not JSON" in str(caught.value)
    assert "garbage" not in str(caught.value)


async def test_a_json_array_line_is_refused() -> None:
    with pytest.raises(UnexpectedResponse, match="JSON list, not an object"):
        await collect(answer(b'[{"ServiceName": "Edge Requests"}]\n'))


async def test_a_renamed_field_is_named() -> None:
    drifted = row("Edge Requests", 7, "Requests")
    drifted["Service"] = drifted.pop("ServiceName")
    with pytest.raises(UnexpectedResponse, match="field ServiceName: Field required") as caught:
        await collect(answer(jsonl(drifted)))
    # The ValidationError (which quotes the refused line) does not ride along.
    assert caught.value.__context__ is None


async def test_an_auth_error_body_under_200_is_an_auth_error() -> None:
    body = b'{"error":{"code":"not_authorized","message":"Not authorized"}}\n'
    with pytest.raises(AuthError, match="not_authorized") as caught:
        await collect(answer(body))
    assert caught.value.__context__ is None


async def test_gzip_bodies_are_decoded() -> None:
    body = gzip.compress(jsonl(row("Edge Requests", 7, "Requests")))
    headers = {"Content-Type": "application/jsonl", "Content-Encoding": "gzip"}
    assert by_limit(await collect(answer(body, headers=headers))) == {"edge_requests": 7.0}


# --- rate limits ------------------------------------------------------------------------------


async def test_rate_limit_headers_are_reported() -> None:
    headers = {
        "Content-Type": "application/jsonl",
        "X-RateLimit-Limit": "100",
        "X-RateLimit-Remaining": "97",
        "X-RateLimit-Reset": str(int(NOW.timestamp()) + 60),
    }
    ctx = context()
    await collect(answer(jsonl(row("Edge Requests", 1, "Requests")), headers=headers), ctx)
    assert ctx.rate_limit is not None
    assert (ctx.rate_limit.remaining, ctx.rate_limit.limit) == (97.0, 100.0)
    assert ctx.rate_limit.resets_at == NOW + timedelta(seconds=60)


async def test_rate_limit_is_reported_on_429_too() -> None:
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Limit": "100"}
    ctx = context()
    with pytest.raises(RateLimited) as caught:
        await collect(answer(status=429, headers=headers), ctx)
    assert caught.value.retry_after is None
    assert ctx.rate_limit is not None and ctx.rate_limit.remaining == 0.0


def test_reset_header_forms() -> None:
    epoch = int(NOW.timestamp())
    for value, expected in [
        (str(epoch + 5), NOW + timedelta(seconds=5)),
        (str((epoch + 5) * 1000), NOW + timedelta(seconds=5)),
        ("5", NOW + timedelta(seconds=5)),
        ("soon", None),
    ]:
        headers = httpx.Headers({"X-RateLimit-Remaining": "1", "X-RateLimit-Reset": value})
        status = rate_limit_status(headers, NOW)
        assert status is not None and status.resets_at == expected
    assert rate_limit_status(httpx.Headers({"X-RateLimit-Limit": "5"}), NOW) is None


def test_retry_after_http_date_is_measured_from_the_date_header() -> None:
    headers = httpx.Headers(
        {
            "Retry-After": "Sun, 22 Nov 2026 10:01:00 GMT",
            "Date": "Sun, 22 Nov 2026 10:00:30 GMT",
        }
    )
    assert retry_after_seconds(headers, NOW + timedelta(hours=1)) == 30.0


# --- errors -----------------------------------------------------------------------------------


def raising(error: Exception) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        raise error

    return handle


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError("boom"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("bad")],
)
async def test_transport_failures_are_provider_unavailable(error: Exception) -> None:
    with pytest.raises(ProviderUnavailable) as caught:
        await collect(raising(error))
    assert caught.value.__context__ is None
    assert TOKEN not in str(caught.value)


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_statuses(status: int) -> None:
    body = b'{"error":{"code":"forbidden","message":"Not authorized"}}'
    with pytest.raises(AuthError, match=r"\(forbidden\).*Billing"):
        await collect(answer(body, status=status, headers={"Content-Type": "application/json"}))


async def test_an_unsafe_error_code_is_not_shown() -> None:
    body = json.dumps({"error": {"code": f"Bearer {TOKEN} leaked", "message": TOKEN}}).encode()
    with pytest.raises(AuthError) as caught:
        await collect(answer(body, status=403))
    assert TOKEN not in str(caught.value)
    assert "leaked" not in str(caught.value)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, UnexpectedResponse),
        (302, UnexpectedResponse),
        (408, ProviderUnavailable),
        (500, ProviderUnavailable),
        (502, ProviderUnavailable),
    ],
)
async def test_other_statuses(status: int, error: type[Exception]) -> None:
    with pytest.raises(error, match=f"HTTP {status}"):
        await collect(answer(status=status))


# --- probe ------------------------------------------------------------------------------------


@pytest.fixture
def frozen_now(monkeypatch: pytest.MonkeyPatch) -> Iterator[datetime]:
    import quota_watch_collectors.vercel.collector as module

    class FrozenDateTime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> FrozenDateTime:
            return cls.fromtimestamp(NOW.timestamp(), tz)

    monkeypatch.setattr(module, "datetime", FrozenDateTime)
    yield NOW


async def test_probe_asks_for_today_only(frozen_now: datetime) -> None:
    recorder = Recorder(answer(b""))
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        await VercelCollector(options(), client).probe()
    params = recorder.requests[0].url.params
    assert params["from"] == "2026-11-22T08:00:00.000Z"
    assert params["to"] == "2026-11-22T10:00:00.000Z"


async def test_probe_maps_errors() -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer(status=403))) as client:
        with pytest.raises(AuthError):
            await VercelCollector(options(), client).probe()
