"""Unit tests of the vercel collector's HTTP side: stream parsing, rate limits, errors, probe."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from quota_watch_collectors.vercel.client import (
    MAX_LINE_BYTES,
    rate_limit_status,
    retry_after_seconds,
)
from quota_watch_collectors.vercel.collector import VercelCollector
from quota_watch_collectors.vercel.tests.support import (
    NOW,
    TOKEN,
    Handler,
    Recorder,
    answer,
    by_limit,
    collect,
    context,
    jsonl,
    options,
    row,
)

from quota_watch.sdk import AuthError, ProviderUnavailable, RateLimited, UnexpectedResponse

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
