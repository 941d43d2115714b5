"""Netlify's API on the SDK's HTTP kit: endpoints, auth, its date forms and error bodies."""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from pydantic import ValidationError

from quota_watch.sdk import (
    Answer,
    AuthError,
    CollectorError,
    ProviderHttp,
    Quirks,
    UnexpectedResponse,
    header_number,
)
from quota_watch_collectors.netlify.models import ErrorBody
from quota_watch_collectors.netlify.options import NetlifyOptions

if TYPE_CHECKING:
    import httpx

__all__ = ["MAX_RESPONSE_BYTES", "NetlifyApi", "Page", "parse_retry_after", "rate_limit_status"]

MAX_RESPONSE_BYTES = 8 * 2**20

RateLimitReporter = Callable[[float, float | None, datetime | None], None]


@dataclass(frozen=True, slots=True)
class Page:
    """A decoded JSON body and, when the Link header names one, the query of the next page."""

    payload: Any
    next_query: dict[str, str] | None = None


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _parse_moment(text: str) -> datetime | None:
    """An HTTP date (RFC 9110) or Netlify's own "2024-06-12 09:53:37 UTC" form."""
    try:
        return _aware(email.utils.parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        pass
    for pattern in ("%Y-%m-%d %H:%M:%S UTC", "%Y-%m-%d %H:%M:%S %z"):
        try:
            return _aware(datetime.strptime(text, pattern))
        except ValueError:
            continue
    try:
        return _aware(datetime.fromisoformat(text))
    except ValueError:
        return None


def _epoch(headers: httpx.Headers) -> datetime | None:
    seconds = header_number(headers, "x-ratelimit-reset")
    try:
        return None if seconds is None else datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def parse_retry_after(headers: httpx.Headers, *, now: datetime) -> float | None:
    """Seconds to wait after a 429: Retry-After (seconds, an HTTP date or Netlify's
    "YYYY-MM-DD HH:MM:SS UTC"), else X-RateLimit-Reset (Unix time); None when neither parses.

    Dates are measured from the response's own Date header when it has one.
    """
    date = headers.get("date")
    reference = (_parse_moment(date) if date else None) or now
    retry_after = (headers.get("retry-after") or "").strip()
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            when = _parse_moment(retry_after)
            if when is not None:
                return max(0.0, (when - reference).total_seconds())
    reset = _epoch(headers)
    return None if reset is None else max(0.0, (reset - reference).total_seconds())


def rate_limit_status(
    headers: httpx.Headers,
) -> tuple[float, float | None, datetime | None] | None:
    """(remaining, limit, resets_at) from X-RateLimit-* headers, or None without a remaining."""
    remaining = header_number(headers, "x-ratelimit-remaining")
    if remaining is None:
        return None
    return (remaining, header_number(headers, "x-ratelimit-limit"), _epoch(headers))


class _NetlifyQuirks(Quirks):
    """Netlify's {code, message} error body (also under HTTP 200) and its Retry-After dates."""

    redirect_hint = "a redirect: check api_base"

    def __init__(self, options: NetlifyOptions) -> None:
        self.options = options

    @staticmethod
    def _body(answer: Answer) -> ErrorBody | None:
        try:
            return ErrorBody.model_validate_json(answer.content)
        except (ValidationError, ValueError):
            return None

    def failure(self, answer: Answer) -> CollectorError | None:
        """An HTTP 200 whose body is Netlify's {code, message} error object is an error."""
        body = self._body(answer) if answer.ok else None
        if body is None or body.code < 400:
            return None
        said = f" (Netlify says: {body.message})" if body.message else ""
        if body.code in (401, 403):
            return AuthError(f"{answer.where}: HTTP 200 carrying auth error {body.code}{said}")
        return UnexpectedResponse(f"{answer.where}: HTTP 200 carrying error {body.code}{said}")

    def detail(self, answer: Answer) -> str:
        body = self._body(answer)
        return f"Netlify says: {body.message}" if body is not None and body.message else ""

    def refused(self, answer: Answer) -> str:
        if answer.unauthorized:
            return "the token is invalid, expired or revoked"
        return (
            "the token's user may not read this; it must be a member of team "
            f"{self.options.account_slug!r} with access to its usage and billing"
        )

    def retry_after(self, answer: Answer, now: datetime) -> float | None:
        return parse_retry_after(answer.headers, now=now)


class NetlifyApi:
    """Netlify's REST API as one poll sees it: GETs under `api_base` with the bearer token.

    Errors follow the SDK kit (with Netlify's own error body and date forms); every
    response's X-RateLimit-* headers go to `report_rate_limit`.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        options: NetlifyOptions,
        *,
        now: datetime,
        report_rate_limit: RateLimitReporter | None = None,
    ) -> None:
        token = options.token.get_secret_value()
        self._report = report_rate_limit
        self._http = ProviderHttp(
            client,
            now=now,
            base_url=options.api_base,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            secrets=[token],
            max_body=MAX_RESPONSE_BYTES,
            quirks=_NetlifyQuirks(options),
            on_answer=self._note_rate_limit,
        )

    async def get(self, path: str, query: Mapping[str, str] | None = None) -> Page:
        """GET `api_base + path` and decode it; a 404 is an UnexpectedResponse."""
        page = await self._get(path, query, missing_ok=False)
        if page is None:  # unreachable: only missing_ok turns a 404 into None
            raise UnexpectedResponse(f"GET {path}: HTTP 404")
        return page

    async def get_optional(self, path: str) -> Page | None:
        """GET `api_base + path`; None when it answers 404 (an endpoint that may be absent)."""
        return await self._get(path, None, missing_ok=True)

    async def _get(
        self, path: str, query: Mapping[str, str] | None, *, missing_ok: bool
    ) -> Page | None:
        answer = await self._http.send("GET", path, params=dict(query or {}))
        if missing_ok and answer.status == 404:
            return None
        self._http.check(answer)
        following = answer.next_link()
        # Only the next page's query is kept: the next request goes to api_base again.
        next_query = dict(parse_qsl(urlsplit(following).query)) if following else None
        return Page(answer.json(), next_query)

    def _note_rate_limit(self, answer: Answer) -> None:
        status = rate_limit_status(answer.headers)
        if status is not None and self._report is not None:
            self._report(*status)
