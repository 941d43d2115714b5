"""ProviderHttp: the one place where requests, transport errors and statuses become typed errors.

A collector's client keeps its endpoints, its auth headers and its provider's quirks; the kit
owns the rest: timeouts and connection errors (ProviderUnavailable), 401/403 (AuthError), 429
with Retry-After or rate-limit headers (RateLimited), 5xx/408 (ProviderUnavailable), anything
else that is not 2xx (UnexpectedResponse), bodies read within a size limit counted after
decompression, and JSON parsed into pydantic models with one message format. Messages name the
method and the path (never the query string, user info or a header value) and are scrubbed of
every secret the client declares.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from quota_watch.sdk.body import ACCEPT_ENCODING, aiter_bounded, read_bounded
from quota_watch.sdk.errors import (
    AuthError,
    CollectorError,
    ProviderUnavailable,
    RateLimited,
    UnexpectedResponse,
)
from quota_watch.sdk.http import plausible_wait, rate_limit_headers, wait_from_headers
from quota_watch.sdk.parse import parse_json, parse_model

if TYPE_CHECKING:
    import httpx

__all__ = [
    "DEFAULT_MAX_BODY",
    "ERROR_BODY_LIMIT",
    "Answer",
    "ProviderHttp",
    "Quirks",
    "RateLimitReporter",
    "display_url",
]

ModelT = TypeVar("ModelT", bound=BaseModel)

RateLimitReporter = Callable[[float, float | None, datetime | None], None]
"""(remaining, limit, resets_at): how a client hands the provider's API budget to the core."""

DEFAULT_MAX_BODY = 8 * 2**20
"""Default per-request body limit (decompressed): a usage payload is a few KiB to a few MiB."""

ERROR_BODY_LIMIT = 64 * 2**10
"""How much of a failed streamed answer is read to find the provider's error message."""

_MAX_DETAIL = 200


def display_url(url: httpx.URL | str) -> str:
    """A URL fit for messages: no user info, no query string, no fragment."""
    import httpx

    parsed = httpx.URL(str(url))
    return str(parsed.copy_with(username=None, password=None, query=None, fragment=None))


@dataclass(frozen=True, slots=True)
class Answer:
    """A provider's answer, its body already read within the limit (and decompressed)."""

    where: str
    status: int
    headers: httpx.Headers
    content: bytes
    url: httpx.URL

    @property
    def ok(self) -> bool:
        """2xx."""
        return 200 <= self.status <= 299

    @property
    def unauthorized(self) -> bool:
        """401: the credentials were rejected."""
        return self.status == 401

    @property
    def forbidden(self) -> bool:
        """403: the credentials lack a permission (or, for some providers, a rate limit)."""
        return self.status == 403

    @property
    def throttled(self) -> bool:
        """429 Too Many Requests."""
        return self.status == 429

    @property
    def unavailable(self) -> bool:
        """5xx or 408: a transient failure of the provider."""
        return self.status >= 500 or self.status == 408

    @property
    def content_type(self) -> str:
        """The media type without parameters, lowercased ("" when absent)."""
        value: str = self.headers.get("content-type", "")
        return value.split(";")[0].strip().lower()

    def json(self) -> Any:
        """The body as JSON, or UnexpectedResponse saying it is not JSON."""
        return parse_json(self.content, self.where, self.headers.get("content-type"))

    def json_or_none(self) -> Any:
        """The body as JSON, or None when it is not JSON (for reading error bodies)."""
        try:
            return self.json()
        except UnexpectedResponse:
            return None

    def model(self, model: type[ModelT]) -> ModelT:
        """The JSON body validated as `model` (UnexpectedResponse naming the fields)."""
        return parse_model(model, self.json(), self.where)

    def next_link(self) -> str | None:
        """The absolute URL of RFC 8288 `Link: <...>; rel="next"`, when there is one."""
        for link in _links(self.headers.get("link", "")):
            if "next" in link.get("rel", "").split():
                return str(self.url.join(link["url"]))
        return None


def _links(header: str) -> list[dict[str, str]]:
    # httpx's parser, applied to a header we already hold (a Response is not kept).
    import httpx

    if not header:
        return []
    return list(httpx.Response(200, headers={"link": header}).links.values())


class Quirks:
    """How a provider says things its own way; every default is plain HTTP.

    Subclass and override what differs: `failure` sees every answer first (GitHub's
    404-means-forbidden, GraphQL errors under HTTP 200, an error object under 200); `detail`
    pulls the provider's short error message; `refused` says what a 401/403 means for it;
    `retry_after` and `rate_limited` read its rate-limit signals.
    """

    refused_statuses: Collection[int] = (401, 403)
    redirect_hint = "a redirect: point api_base at the final address"

    def failure(self, answer: Answer) -> CollectorError | None:
        """An error the provider reports its own way, or None for the status mapping."""
        return None

    def detail(self, answer: Answer) -> str:
        """The provider's own short error message for `answer` ("" when none)."""
        return ""

    def refused(self, answer: Answer) -> str:
        """What a refused request means and how to fix it."""
        if answer.unauthorized:
            return "the credentials were rejected (expired, revoked or mistyped)"
        return "the credentials lack a permission"

    def rate_limited(self, answer: Answer) -> bool:
        """Whether the answer asks us to slow down."""
        return answer.throttled

    def retry_after(self, answer: Answer, now: datetime) -> float | None:
        """Seconds to wait: Retry-After, else the X-RateLimit-Reset headers; None if unsaid."""
        return wait_from_headers(answer.headers, now)


PLAIN = Quirks()


class ProviderHttp:
    """One provider's HTTP on the core's shared client: bounded, mapped, scrubbed.

    `headers` go on every request (auth); `secrets` are scrubbed from every message;
    `on_answer` sees every answer's headers (rate-limit budgets) before its status is checked;
    `report_rate_limit` gets the standard X-RateLimit-Remaining/-Limit/-Reset of every answer
    that has them (a collector passes `ctx.report_rate_limit`); `max_body_option` names the
    option that sets `max_body`, shown when a body is too large.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        now: datetime,
        base_url: str = "",
        headers: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
        max_body: int = DEFAULT_MAX_BODY,
        quirks: Quirks = PLAIN,
        on_answer: Callable[[Answer], None] | None = None,
        report_rate_limit: RateLimitReporter | None = None,
        max_body_option: str = "",
    ) -> None:
        self.client = client
        self.now = now
        self.base_url = base_url
        self.headers = {"Accept-Encoding": ACCEPT_ENCODING, **(headers or {})}
        self.secrets = tuple(sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True))
        self.max_body = max_body
        self.quirks = quirks
        self.on_answer = on_answer
        self.report_rate_limit = report_rate_limit
        self.max_body_option = max_body_option

    # -- messages ----------------------------------------------------------------------------

    def mask(self, text: str) -> str:
        """`text` with every declared secret replaced by ***."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def scrub(self, text: str, *, limit: int = _MAX_DETAIL) -> str:
        """Provider text fit for a message: secrets masked, one line, at most `limit` chars."""
        text = " ".join(self.mask(text).split())
        return text if len(text) <= limit else text[: limit - 3] + "..."

    def where(self, method: str, path: str) -> str:
        """How messages name a request: the method and the path (or a URL without query)."""
        shown = display_url(path) if "://" in path else path.split("?")[0]
        return f"{method} {shown}"

    def _sized(self, where: str) -> str:
        return f"{where} (see {self.max_body_option})" if self.max_body_option else where

    # -- requests ----------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None,
        json: Any,
        content: bytes | None,
        headers: Mapping[str, str] | None,
        request_timeout: float | None = None,
    ) -> httpx.Request:
        import httpx

        url = path if "://" in path else self.base_url + path
        return self.client.build_request(
            method,
            url,
            params=params,
            json=json,
            content=content,
            headers={**self.headers, **(headers or {})},
            timeout=httpx.USE_CLIENT_DEFAULT if request_timeout is None else request_timeout,
        )

    def _transport_failure(self, exc: httpx.HTTPError, where: str) -> CollectorError:
        import httpx

        name = type(exc).__name__
        if isinstance(exc, httpx.TimeoutException):
            return ProviderUnavailable(f"{where}: timed out ({name})")
        if isinstance(exc, httpx.TransportError):
            said = self.scrub(str(exc))
            shown = f"{name}: {said}" if said else name
            return ProviderUnavailable(f"{where}: request failed ({shown})")
        # Too many redirects, a malformed answer and the like: nothing we can use.
        return UnexpectedResponse(f"{where}: unusable response ({name})")

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        where: str | None = None,
        max_body: int | None = None,
        follow_redirects: bool = False,
        request_timeout: float | None = None,
    ) -> Answer:
        """Send one request and read its body within the limit; the status is not checked."""
        import httpx

        where = where or self.where(method, path)
        limit = self.max_body if max_body is None else max_body
        request = self._request(
            method,
            path,
            params=params,
            json=json,
            content=content,
            headers=headers,
            request_timeout=request_timeout,
        )
        failure: CollectorError | None = None
        answer: Answer | None = None
        try:
            response = await self.client.send(
                request, stream=True, follow_redirects=follow_redirects
            )
            try:
                body = await read_bounded(response, limit, self._sized(where))
            finally:
                await response.aclose()
            answer = Answer(where, response.status_code, response.headers, body, response.url)
        except httpx.HTTPError as exc:
            failure = self._transport_failure(exc, where)
        if failure is not None:
            # Raised outside the except clause: httpx exceptions hold the request and its
            # headers, and must not ride along as __context__.
            raise failure
        assert answer is not None
        if self.on_answer is not None:
            self.on_answer(answer)
        if self.report_rate_limit is not None:
            status = rate_limit_headers(answer.headers, self.now)
            if status is not None:
                self.report_rate_limit(status.remaining, status.limit, status.resets_at)
        return answer

    def check(self, answer: Answer, quirks: Quirks | None = None) -> Answer:
        """`answer` when it is a success, else the typed error its status or quirk means."""
        error = self.error(answer, quirks)
        if error is not None:
            raise error
        return answer

    def error(self, answer: Answer, quirks: Quirks | None = None) -> CollectorError | None:
        """The typed error an answer means (None for a success), carrying its status."""
        error = self._error(answer, quirks or self.quirks)
        if error is None:
            return None
        if error.status is None:
            error.status = answer.status
        if isinstance(error, RateLimited) and error.retry_after is not None:
            # Whatever a quirk computed: a wait that is not finite or over a year is absent.
            error.retry_after = plausible_wait(error.retry_after)
        # A quirk's message may quote the provider, and the provider may echo a credential.
        error.args = tuple(self.mask(a) if isinstance(a, str) else a for a in error.args)
        return error

    def _error(self, answer: Answer, quirks: Quirks) -> CollectorError | None:
        special = quirks.failure(answer)
        if special is not None:
            return special
        if answer.ok and not quirks.rate_limited(answer):
            return None
        where, status = answer.where, answer.status
        said = self.scrub(quirks.detail(answer))
        detail = f" ({said})" if said else ""
        if quirks.rate_limited(answer):
            wait = quirks.retry_after(answer, self.now)
            shown = "" if wait is None else f"; retry after {wait:g}s"
            return RateLimited(f"{where}: HTTP {status}: rate limited{detail}{shown}", wait)
        if status in quirks.refused_statuses:
            return AuthError(f"{where}: HTTP {status}{detail}: {quirks.refused(answer)}")
        if answer.unavailable:
            return ProviderUnavailable(f"{where}: HTTP {status}{detail}")
        hint = f" ({quirks.redirect_hint})" if 300 <= status <= 399 else ""
        return UnexpectedResponse(f"{where}: HTTP {status}{hint}{detail}")

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        where: str | None = None,
        max_body: int | None = None,
        follow_redirects: bool = False,
        request_timeout: float | None = None,
        quirks: Quirks | None = None,
    ) -> Answer:
        """Send one request; a success, else the typed error it means."""
        answer = await self.send(
            method,
            path,
            params=params,
            json=json,
            content=content,
            headers=headers,
            where=where,
            max_body=max_body,
            follow_redirects=follow_redirects,
            request_timeout=request_timeout,
        )
        return self.check(answer, quirks)

    async def get(
        self,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        where: str | None = None,
    ) -> Answer:
        """GET `path` (under base_url); a success, else the typed error it means."""
        return await self.request("GET", path, params=params, headers=headers, where=where)

    async def stream_lines(
        self,
        method: str,
        path: str,
        on_line: Callable[[int, bytes], None],
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        max_body: int | None = None,
        max_line: int = 2**20,
    ) -> int:
        """Stream a line-delimited body (JSONL) to `on_line(number, line)`, never holding more
        than one line; returns the number of lines. A failed status reads at most
        ERROR_BODY_LIMIT bytes of the body for the provider's message."""
        import httpx

        where = self.where(method, path)
        limit = self.max_body if max_body is None else max_body
        request = self._request(
            method, path, params=params, json=None, content=None, headers=headers
        )
        failure: CollectorError | None = None
        lines = 0
        try:
            response = await self.client.send(request, stream=True, follow_redirects=False)
            try:
                lines = await self._lines(response, where, limit, max_line, on_line)
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            failure = self._transport_failure(exc, where)
        if failure is not None:
            raise failure
        return lines

    async def _lines(
        self,
        response: httpx.Response,
        where: str,
        limit: int,
        max_line: int,
        on_line: Callable[[int, bytes], None],
    ) -> int:
        head = Answer(where, response.status_code, response.headers, b"", response.url)
        if self.on_answer is not None:
            self.on_answer(head)
        if not head.ok:
            content = b""
            async for piece in aiter_bounded(response, 2**62, where):
                content += piece
                if len(content) >= ERROR_BODY_LIMIT:
                    break
            content = content[:ERROR_BODY_LIMIT]
            self.check(Answer(where, head.status, head.headers, content, head.url))
        self.check(head)
        buffer = b""
        number = 0
        async for piece in aiter_bounded(response, limit, self._sized(where)):
            parts = (buffer + piece).split(b"\n")
            buffer = parts.pop()
            for part in parts:
                number += 1
                on_line(number, part.rstrip(b"\r"))
            if len(buffer) > max_line:
                raise UnexpectedResponse(
                    f"{where}: line {number + 1} is longer than {max_line} bytes: not JSONL"
                )
        if buffer:
            number += 1
            on_line(number, buffer.rstrip(b"\r"))
        return number
