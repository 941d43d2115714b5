"""Requests to Netlify's API for one poll: status -> typed error, rate-limit headers, pagination."""

from __future__ import annotations

import email.utils
import json
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from pydantic import ValidationError

from quota_watch.sdk import (
    AuthError,
    ProviderUnavailable,
    RateLimited,
    UnexpectedResponse,
    read_body,
)
from quota_watch_collectors.netlify.models import ErrorBody
from quota_watch_collectors.netlify.options import NetlifyOptions

__all__ = ["MAX_RESPONSE_BYTES", "NetlifyApi", "Page", "parse_retry_after", "rate_limit_status"]

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 8 * 2**20
_API_MESSAGE_CHARS = 200

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


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _epoch(value: float | None) -> datetime | None:
    if value is None or value < 0:
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def parse_retry_after(headers: httpx.Headers, *, now: datetime) -> float | None:
    """Seconds to wait after a 429: Retry-After (seconds, an HTTP date or Netlify's
    "YYYY-MM-DD HH:MM:SS UTC"), else X-RateLimit-Reset (Unix time); None when neither parses.

    Dates are measured from the response's own Date header when it has one, so a skewed local
    clock does not matter.
    """
    date = headers.get("date")
    reference = (_parse_moment(date) if date else None) or now
    retry_after = headers.get("retry-after")
    if retry_after is not None and retry_after.strip():
        seconds = _number(retry_after)
        if seconds is not None:
            return max(0.0, seconds)
        when = _parse_moment(retry_after.strip())
        if when is not None:
            return max(0.0, (when - reference).total_seconds())
    reset = _epoch(_number(headers.get("x-ratelimit-reset")))
    if reset is not None:
        return max(0.0, (reset - reference).total_seconds())
    return None


def rate_limit_status(
    headers: httpx.Headers,
) -> tuple[float, float | None, datetime | None] | None:
    """(remaining, limit, resets_at) from X-RateLimit-* headers, or None without a remaining."""
    remaining = _number(headers.get("x-ratelimit-remaining"))
    if remaining is None or remaining < 0:
        return None
    limit = _number(headers.get("x-ratelimit-limit"))
    return (
        remaining,
        limit if limit is not None and limit >= 0 else None,
        _epoch(_number(headers.get("x-ratelimit-reset"))),
    )


class NetlifyApi:
    """Netlify's REST API as one poll sees it: GETs under `api_base` with the bearer token.

    401/403 (and an auth error body under HTTP 200) raise AuthError, 429 RateLimited, 5xx,
    408, timeouts and connection errors ProviderUnavailable, anything else that is not 2xx or
    not JSON UnexpectedResponse. Messages name the path under `api_base`, never the token, a
    header value or the response body (only Netlify's short error message, token scrubbed).
    Every response's X-RateLimit-* headers go to `report_rate_limit`.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        options: NetlifyOptions,
        *,
        now: datetime,
        report_rate_limit: RateLimitReporter | None = None,
    ) -> None:
        self._client = client
        self._options = options
        self._now = now
        self._report = report_rate_limit

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
        where = f"GET {path}"
        token = self._options.token.get_secret_value()
        failure: Exception | None = None
        try:
            async with self._client.stream(
                "GET",
                self._options.api_base + path,
                params=dict(query or {}),
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            ) as response:
                log.debug("%s -> HTTP %d", where, response.status_code)
                self._note_rate_limit(response.headers)
                if missing_ok and response.status_code == 404:
                    return None
                content = await read_body(response, MAX_RESPONSE_BYTES, where)
                self._check_status(response, content, where)
                links = response.links
        except httpx.TimeoutException as exc:
            failure = ProviderUnavailable(f"{where}: timed out ({type(exc).__name__})")
        except httpx.TransportError as exc:
            failure = ProviderUnavailable(
                f"{where}: request failed ({type(exc).__name__}: {self._scrub(str(exc))})"
            )
        except httpx.HTTPError as exc:
            failure = UnexpectedResponse(f"{where}: {type(exc).__name__}")
        if failure is not None:
            # Raised outside the except clause: httpx exceptions hold the request and its
            # Authorization header, and must not ride along as __context__.
            raise failure
        payload = _decode(content, response, where)
        self._check_error_body(payload, where)
        next_link = links.get("next")
        next_query = None
        if next_link is not None and next_link.get("url"):
            next_query = dict(parse_qsl(urlsplit(next_link["url"]).query))
        return Page(payload, next_query)

    def _note_rate_limit(self, headers: httpx.Headers) -> None:
        status = rate_limit_status(headers)
        if status is not None and self._report is not None:
            self._report(*status)

    def _scrub(self, text: str) -> str:
        token = self._options.token.get_secret_value()
        if token:
            text = text.replace(token, "***")
        return text

    def _api_message(self, content: bytes) -> str:
        """Netlify's own error message, if the body is its {code, message} object (scrubbed)."""
        try:
            body = ErrorBody.model_validate_json(content)
        except (ValidationError, ValueError):
            return ""
        return self._shown(body.message)

    def _shown(self, message: str) -> str:
        text = " ".join(self._scrub(message).split())
        if len(text) > _API_MESSAGE_CHARS:
            text = text[:_API_MESSAGE_CHARS] + "..."
        return f" (Netlify says: {text})" if text else ""

    def _check_status(self, response: httpx.Response, content: bytes, where: str) -> None:
        status = response.status_code
        if status == 401:
            raise AuthError(
                f"{where}: HTTP 401: the token is invalid, expired or revoked"
                + self._api_message(content)
            )
        if status == 403:
            raise AuthError(
                f"{where}: HTTP 403: the token's user may not read this; it must be a member of "
                f"team {self._options.account_slug!r} with access to its usage and billing"
                + self._api_message(content)
            )
        if status == 429:
            retry_after = parse_retry_after(response.headers, now=self._now)
            shown = "" if retry_after is None else f"; retry after {retry_after:g}s"
            raise RateLimited(f"{where}: HTTP 429 Too Many Requests{shown}", retry_after)
        if status >= 500 or status == 408:
            raise ProviderUnavailable(f"{where}: HTTP {status}")
        if not 200 <= status <= 299:
            hint = " (a redirect: check api_base)" if 300 <= status <= 399 else ""
            raise UnexpectedResponse(f"{where}: HTTP {status}{hint}{self._api_message(content)}")

    def _check_error_body(self, payload: Any, where: str) -> None:
        """An HTTP 200 whose body is Netlify's {code, message} error object is an error."""
        if not isinstance(payload, dict) or "code" not in payload or "message" not in payload:
            return
        try:
            body = ErrorBody.model_validate(payload)
        except ValidationError:
            return
        if body.code < 400:
            return
        text = self._shown(body.message)
        if body.code in (401, 403):
            raise AuthError(f"{where}: HTTP 200 carrying auth error {body.code}{text}")
        raise UnexpectedResponse(f"{where}: HTTP 200 carrying error {body.code}{text}")


def _decode(content: bytes, response: httpx.Response, where: str) -> Any:
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError):
        pass
    kind = response.headers.get("content-type", "no content type")
    raise UnexpectedResponse(f"{where}: the body is not JSON ({len(content)} bytes, {kind})")
