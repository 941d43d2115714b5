"""The SDK's HTTP helpers shared by collectors: HTTP dates, Retry-After, bounded bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from quota_watch.sdk import UnexpectedResponse, http_date, read_body, retry_after_seconds

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def test_http_date() -> None:
    assert http_date("Sun, 22 Nov 2026 10:02:00 GMT") == datetime(2026, 11, 22, 10, 2, tzinfo=UTC)
    assert http_date("not a date") is None
    assert http_date(None) is None


@pytest.mark.parametrize(
    ("value", "date", "expected"),
    [
        ("30", None, 30.0),
        (" 2.5 ", None, 2.5),
        ("-5", None, 0.0),
        ("Sun, 22 Nov 2026 10:02:00 GMT", None, 120.0),
        # measured from the response's own Date, whatever our clock says
        ("Sun, 22 Nov 2026 10:02:00 GMT", "Sun, 22 Nov 2026 10:01:00 GMT", 60.0),
        ("Sun, 22 Nov 2026 09:00:00 GMT", None, 0.0),
        ("soon", None, None),
        ("nan", None, None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_retry_after(value: str | None, date: str | None, expected: float | None) -> None:
    assert retry_after_seconds(value, now=NOW, date=date) == expected


def streamed(chunks: list[bytes], headers: dict[str, str] | None = None) -> httpx.Response:
    class Stream(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            for chunk in chunks:
                yield chunk

    return httpx.Response(200, headers=headers or {}, stream=Stream())


async def test_read_body_within_limit() -> None:
    assert await read_body(streamed([b"ab", b"cd"]), 4, "GET /x") == b"abcd"


async def test_read_body_refuses_a_large_declared_length() -> None:
    response = streamed([b"x"], {"Content-Length": "5000"})
    with pytest.raises(UnexpectedResponse, match="GET /x: response of 5000 bytes exceeds 10"):
        await read_body(response, 10, "GET /x")


async def test_read_body_refuses_a_large_stream() -> None:
    with pytest.raises(UnexpectedResponse, match="GET /x: response exceeds 4 bytes"):
        await read_body(streamed([b"abc", b"def"]), 4, "GET /x")
