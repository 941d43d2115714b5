"""The SDK HTTP kit: status and transport mapping, quirks, bounded inflating reads, paging."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import BaseModel

from quota_watch.sdk import (
    Answer,
    AuthError,
    CollectorError,
    ProviderHttp,
    ProviderUnavailable,
    Quirks,
    RateLimited,
    UnexpectedResponse,
    cursor_pages,
    link_pages,
    numbered_pages,
    parse_model,
    read_body,
    retry_after_seconds,
)

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
TOKEN = "kit-secret-token-123"
BASE = "https://api.example.com/v1"

Handler = Callable[[httpx.Request], httpx.Response]


def kit(handler: Handler, **kwargs: object) -> ProviderHttp:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return ProviderHttp(
        client,
        now=NOW,
        base_url=BASE,
        headers={"Authorization": f"Bearer {TOKEN}"},
        secrets=[TOKEN],
        **kwargs,  # type: ignore[arg-type]
    )


async def failure(http: ProviderHttp, path: str = "/usage") -> CollectorError:
    with pytest.raises(CollectorError) as caught:
        await http.get(path)
    assert TOKEN not in str(caught.value)
    assert caught.value.__context__ is None and caught.value.__cause__ is None
    return caught.value


# --- statuses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, AuthError),
        (403, AuthError),
        (429, RateLimited),
        (408, ProviderUnavailable),
        (500, ProviderUnavailable),
        (503, ProviderUnavailable),
        (400, UnexpectedResponse),
        (404, UnexpectedResponse),
        (302, UnexpectedResponse),
    ],
)
async def test_status_mapping(status: int, kind: type[CollectorError]) -> None:
    error = await failure(kit(lambda _r: httpx.Response(status, json={"echo": TOKEN})))
    assert type(error) is kind
    assert error.status == status
    assert str(error).startswith(f"GET /usage: HTTP {status}")


async def test_success_is_parsed_into_a_model() -> None:
    class Usage(BaseModel):
        used: int

    answer = await kit(lambda _r: httpx.Response(200, json={"used": 3})).get("/usage")
    assert answer.model(Usage).used == 3
    with pytest.raises(UnexpectedResponse, match=r"GET /usage: .*known shape: used: "):
        answer = await kit(lambda _r: httpx.Response(200, json={"used": "x"})).get("/usage")
        answer.model(Usage)


async def test_rate_limited_reads_retry_after_then_the_reset_header() -> None:
    error = await failure(kit(lambda _r: httpx.Response(429, headers={"Retry-After": "30"})))
    assert isinstance(error, RateLimited) and error.retry_after == 30
    reset = str(int(NOW.timestamp()) + 90)
    error = await failure(kit(lambda _r: httpx.Response(429, headers={"X-RateLimit-Reset": reset})))
    assert isinstance(error, RateLimited) and error.retry_after == 90
    error = await failure(kit(lambda _r: httpx.Response(429, headers={"Retry-After": "1e309"})))
    assert isinstance(error, RateLimited) and error.retry_after is None


@pytest.mark.parametrize(
    "value",
    ["inf", "nan", "1e309", str(10 * 366 * 86400), "Fri, 31 Dec 9999 23:59:59 GMT", "1e400"],
)
def test_absurd_retry_after_is_absent(value: str) -> None:
    assert retry_after_seconds(value, now=NOW) is None


async def test_redirects_are_not_followed_unless_asked() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/old"):
            return httpx.Response(301, headers={"Location": f"{BASE}/new"})
        return httpx.Response(200, json={"ok": True})

    error = await failure(kit(handler), "/old")
    assert "redirect" in str(error)
    answer = await kit(handler).request("GET", "/old", follow_redirects=True)
    assert answer.json() == {"ok": True}


# --- transport --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raised", "kind", "text"),
    [
        (httpx.ConnectTimeout("slow"), ProviderUnavailable, "timed out (ConnectTimeout)"),
        (httpx.ConnectError(f"refused {TOKEN}"), ProviderUnavailable, "refused ***"),
        (httpx.RemoteProtocolError("garbled"), ProviderUnavailable, "RemoteProtocolError"),
        (httpx.TooManyRedirects("loop"), UnexpectedResponse, "TooManyRedirects"),
    ],
)
async def test_transport_failures(raised: Exception, kind: type[Exception], text: str) -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        raise raised

    error = await failure(kit(handler))
    assert type(error) is kind and text in str(error)


# --- quirks -----------------------------------------------------------------------------------


class HidingQuirks(Quirks):
    """GitHub-style: a 404 hides what the token may not see; GraphQL errors under 200."""

    def failure(self, answer: Answer) -> CollectorError | None:
        if answer.status == 404:
            return AuthError(f"{answer.where}: HTTP 404: hidden or missing")
        body = answer.json_or_none()
        if answer.ok and isinstance(body, dict) and body.get("errors"):
            return UnexpectedResponse(f"{answer.where}: GraphQL error: {body['errors'][0]}")
        return None

    def detail(self, answer: Answer) -> str:
        body = answer.json_or_none()
        return str(body.get("message", "")) if isinstance(body, dict) else ""

    def refused(self, answer: Answer) -> str:
        return "grant Usage: Read"


async def test_quirks_decide_first_and_shape_messages() -> None:
    error = await failure(kit(lambda _r: httpx.Response(404), quirks=HidingQuirks()))
    assert isinstance(error, AuthError) and error.status == 404
    graphql = {"data": None, "errors": [f"bad token {TOKEN}"]}
    error = await failure(kit(lambda _r: httpx.Response(200, json=graphql), quirks=HidingQuirks()))
    assert isinstance(error, UnexpectedResponse) and "bad token ***" in str(error)
    said = {"message": f"Bad   credentials\n{TOKEN}"}
    error = await failure(kit(lambda _r: httpx.Response(403, json=said), quirks=HidingQuirks()))
    assert str(error) == "GET /usage: HTTP 403 (Bad credentials ***): grant Usage: Read"


class EagerQuirks(Quirks):
    """A quirk that trusts any number it finds."""

    def retry_after(self, answer: Answer, now: datetime) -> float | None:
        return float(answer.headers["retry-after"])


@pytest.mark.parametrize("value", ["1e12", "inf", "-3"])
async def test_a_quirk_cannot_hand_the_poller_an_absurd_wait(value: str) -> None:
    answer = httpx.Response(429, headers={"Retry-After": value})
    error = await failure(kit(lambda _r: answer, quirks=EagerQuirks()))
    assert isinstance(error, RateLimited)
    assert error.retry_after == (0.0 if value == "-3" else None)


async def test_on_answer_sees_failed_answers_too() -> None:
    seen: list[int] = []
    http = kit(lambda _r: httpx.Response(429), on_answer=lambda a: seen.append(a.status))
    await failure(http)
    assert seen == [429]


# --- bounded, inflating reads -----------------------------------------------------------------


def streamed(chunks: list[bytes], headers: dict[str, str]) -> httpx.Response:
    class Stream(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            for chunk in chunks:
                yield chunk

    return httpx.Response(200, headers=headers, stream=Stream())


def halves(data: bytes) -> list[bytes]:
    return [data[: len(data) // 2], data[len(data) // 2 :]]


async def test_limit_counts_inflated_bytes() -> None:
    packed = gzip.compress(bytes(100_000))
    assert len(packed) < 1_000
    response = streamed(halves(packed), {"Content-Encoding": "gzip"})
    with pytest.raises(UnexpectedResponse, match="exceeds 50000 bytes"):
        await read_body(response, 50_000, "GET /x")
    response = streamed(halves(packed), {"Content-Encoding": "gzip"})
    assert await read_body(response, 100_000, "GET /x") == bytes(100_000)


@pytest.mark.parametrize(
    ("encoding", "packed"),
    [
        ("gzip", gzip.compress(b"hello ") + gzip.compress(b"world")),  # two members
        ("deflate", zlib.compress(b"hello world")),
        ("deflate", zlib.compress(b"hello world")[2:-4]),  # raw deflate, as some servers send
        ("identity", b"hello world"),
    ],
)
async def test_encodings(encoding: str, packed: bytes) -> None:
    response = streamed(halves(packed), {"Content-Encoding": encoding})
    assert await read_body(response, 100, "GET /x") == b"hello world"


@pytest.mark.parametrize(
    ("encoding", "packed", "message"),
    [
        ("gzip", b"not gzip at all", "does not decompress"),
        ("br", b"\x0b\x02\x80hi\x03", "Content-Encoding 'br'"),
        ("gzip, gzip", gzip.compress(gzip.compress(b"x")), "Content-Encoding 'gzip, gzip'"),
    ],
)
async def test_unreadable_encodings(encoding: str, packed: bytes, message: str) -> None:
    response = streamed([packed], {"Content-Encoding": encoding})
    with pytest.raises(UnexpectedResponse, match=message):
        await read_body(response, 100, "GET /x")


async def test_a_body_already_read_is_still_held_to_the_limit() -> None:
    response = httpx.Response(200, content=b"x" * 10)
    with pytest.raises(UnexpectedResponse, match="exceeds 5 bytes"):
        await read_body(response, 5, "GET /x")
    assert await read_body(httpx.Response(200, content=b"abc"), 5, "GET /x") == b"abc"


async def test_stream_lines_are_joined_across_chunks_and_bounded() -> None:
    body = gzip.compress(b'{"a": 1}\n{"a": 2}\r\n{"a": 3}')
    lines: list[tuple[int, bytes]] = []
    http = kit(lambda _r: streamed(halves(body), {"Content-Encoding": "gzip"}))
    assert await http.stream_lines("GET", "/lines", lambda n, line: lines.append((n, line))) == 3
    assert lines == [(1, b'{"a": 1}'), (2, b'{"a": 2}'), (3, b'{"a": 3}')]
    long = kit(lambda _r: streamed([b"x" * 64] * 4, {}))
    with pytest.raises(UnexpectedResponse, match="line 1 is longer than 100 bytes"):
        await long.stream_lines("GET", "/lines", lambda n, line: None, max_line=100)
    refused = kit(lambda _r: httpx.Response(401, json={"echo": TOKEN}))
    with pytest.raises(AuthError):
        await refused.stream_lines("GET", "/lines", lambda n, line: None)


# --- parsing and paging -----------------------------------------------------------------------


def test_one_validation_message_format() -> None:
    class Item(BaseModel):
        quantity: float

    class Report(BaseModel):
        items: list[Item]

    data = {"items": [{"quantity": 1}, {"quantity": "many"}, {}, {}, {}]}
    with pytest.raises(UnexpectedResponse) as caught:
        parse_model(Report, data, "GET /report")
    assert str(caught.value).startswith(
        "GET /report: the response does not have the known shape: items[1].quantity: "
    )
    assert str(caught.value).endswith("(+1 more)")
    assert "many" not in str(caught.value)


async def test_link_pages_follow_next_on_the_same_origin_only() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        links = {1: f'<{BASE}/items?page=2>; rel="next"', 2: '</v1/items?page=3>; rel="next"'}
        headers = {"Link": links[page]} if page in links else {}
        return httpx.Response(200, json=[page], headers=headers)

    pages = [a.json() async for a in link_pages(kit(handler), "/items", max_pages=5)]
    assert pages == [[1], [2], [3]]
    with pytest.raises(UnexpectedResponse, match="more than 2 pages"):
        _ = [a async for a in link_pages(kit(handler), "/items", max_pages=2)]

    def elsewhere(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[], headers={"Link": '<https://evil.test/x>; rel="next"'})

    with pytest.raises(UnexpectedResponse, match="another origin"):
        _ = [a async for a in link_pages(kit(elsewhere), "/items", max_pages=5)]

    def loop(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[], headers={"Link": f'<{BASE}/items>; rel="next"'})

    with pytest.raises(UnexpectedResponse, match="points back"):
        _ = [a async for a in link_pages(kit(loop), "/items", max_pages=5)]


async def test_cursor_and_numbered_pages() -> None:
    chain = {None: ("a", "c1"), "c1": ("b", "c2"), "c2": ("c", None)}

    async def fetch(cursor: str | None) -> tuple[str, str | None]:
        return chain[cursor]

    assert [p async for p in cursor_pages(fetch, max_pages=5, where="GET /x")] == ["a", "b", "c"]

    async def repeating(cursor: str | None) -> tuple[str, str | None]:
        return "same", "c1"

    with pytest.raises(UnexpectedResponse, match="cursor repeats"):
        _ = [p async for p in cursor_pages(repeating, max_pages=5, where="GET /x")]

    async def numbered(page: int) -> tuple[int, bool]:
        return page, page < 3

    assert [p async for p in numbered_pages(numbered, max_pages=3, where="GET /x")] == [1, 2, 3]
    with pytest.raises(UnexpectedResponse, match="more than 2 pages"):
        _ = [p async for p in numbered_pages(numbered, max_pages=2, where="GET /x")]


# --- rate-limit budgets -------------------------------------------------------------------------


async def test_standard_rate_limit_headers_reach_the_reporter_even_on_a_failure() -> None:
    seen: list[tuple[float, float | None, datetime | None]] = []
    headers = {"X-RateLimit-Remaining": "41", "X-RateLimit-Limit": "60"}

    def handler(request: httpx.Request) -> httpx.Response:
        status = 200 if request.url.path.endswith("/usage") else 503
        return httpx.Response(status, json={}, headers=headers)

    http = kit(handler, report_rate_limit=lambda *budget: seen.append(budget))
    await http.get("/usage")
    await failure(http, "/down")
    assert [(r, limit) for r, limit, _ in seen] == [(41.0, 60.0), (41.0, 60.0)]

    quiet = kit(
        lambda _r: httpx.Response(200, json={}),
        report_rate_limit=lambda *budget: seen.append(budget),
    )
    await quiet.get("/usage")
    assert len(seen) == 2  # no headers, nothing reported
