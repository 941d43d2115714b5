"""GET /v1/billing/charges streamed line by line, HTTP statuses mapped to the SDK's typed errors."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from pydantic import ValidationError

from quota_watch.sdk import (
    AuthError,
    ProviderUnavailable,
    RateLimited,
    RateLimitStatus,
    UnexpectedResponse,
)
from quota_watch.sdk import retry_after_seconds as sdk_retry_after
from quota_watch_collectors.vercel.models import ErrorBody
from quota_watch_collectors.vercel.options import VercelOptions

__all__ = [
    "CHARGES_PATH",
    "MAX_LINE_BYTES",
    "LineConsumer",
    "RateLimitReporter",
    "charges_url",
    "error_code",
    "fetch_charges",
    "format_instant",
    "is_auth_code",
    "rate_limit_status",
    "retry_after_seconds",
]

log = logging.getLogger(__name__)

CHARGES_PATH = "/v1/billing/charges"
MAX_LINE_BYTES = 1 << 20  # one FOCUS row is well under 1 KiB; a longer line is not a row
_MAX_ERROR_BODY = 64 << 10
_ERROR_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_AUTH_CODES = {"forbidden", "not_authorized", "unauthorized", "invalid_token", "team_unauthorized"}

LineConsumer = Callable[[int, bytes], None]
RateLimitReporter = Callable[[RateLimitStatus], None]


def charges_url(options: VercelOptions) -> str:
    """The charges endpoint under the configured API root."""
    return f"{options.api_base}{CHARGES_PATH}"


def format_instant(moment: datetime) -> str:
    """An aware datetime in the API's UTC form with milliseconds: 2026-10-19T07:00:00.000Z."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _reset_time(value: str | None, now: datetime) -> datetime | None:
    """X-RateLimit-Reset: UTC epoch seconds; epoch milliseconds and small deltas tolerated."""
    number = _number(value)
    if number is None:
        return None
    try:
        if number >= 1e11:  # epoch milliseconds
            return datetime.fromtimestamp(number / 1000, UTC)
        if number >= 1e9:  # epoch seconds (what Vercel sends)
            return datetime.fromtimestamp(number, UTC)
        return now + timedelta(seconds=number)  # a delta in seconds
    except (OverflowError, OSError, ValueError):
        return None


def rate_limit_status(headers: httpx.Headers, now: datetime) -> RateLimitStatus | None:
    """X-RateLimit-Remaining/-Limit/-Reset as a RateLimitStatus; None without a usable remaining."""
    remaining = _number(headers.get("x-ratelimit-remaining"))
    if remaining is None:
        return None
    return RateLimitStatus(
        remaining=remaining,
        limit=_number(headers.get("x-ratelimit-limit")),
        resets_at=_reset_time(headers.get("x-ratelimit-reset"), now),
    )


def retry_after_seconds(headers: httpx.Headers, now: datetime) -> float | None:
    """Seconds to wait: Retry-After (delay-seconds or HTTP date), else X-RateLimit-Reset - now."""
    wait = sdk_retry_after(headers.get("retry-after"), now=now, date=headers.get("date"))
    if wait is not None:
        return wait
    reset = _reset_time(headers.get("x-ratelimit-reset"), now)
    if reset is not None:
        return max(0.0, (reset - now).total_seconds())
    return None


def error_code(content: bytes) -> str | None:
    """The `error.code` of a Vercel error body when it is a plain identifier (safe to show)."""
    try:
        body = ErrorBody.model_validate_json(content)
    except ValidationError:
        return None
    code = body.error.code
    return code if code is not None and _ERROR_CODE.match(code) else None


def is_auth_code(code: str | None) -> bool:
    """Whether an error code means the credentials or their permissions were refused."""
    return code is not None and code.casefold() in _AUTH_CODES


_PERMISSION_HINT = (
    "the token must be scoped to this team (or Full Account, not a project) and its user needs "
    "a team role that may read billing: Owner, Member, Developer, Security, Billing or "
    "Enterprise Viewer"
)


async def _read_small(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= _MAX_ERROR_BODY:
            break
    return b"".join(chunks)[:_MAX_ERROR_BODY]


async def _check_status(response: httpx.Response, where: str, now: datetime) -> None:
    status = response.status_code
    if 200 <= status <= 299:
        return
    if status in (401, 403):
        code = error_code(await _read_small(response))
        shown = f" ({code})" if code else ""
        raise AuthError(f"{where}: HTTP {status}{shown}: access refused; {_PERMISSION_HINT}")
    if status == 429:
        retry_after = retry_after_seconds(response.headers, now)
        shown = "" if retry_after is None else f"; retry after {retry_after:g}s"
        raise RateLimited(f"{where}: HTTP 429 Too Many Requests{shown}", retry_after=retry_after)
    if status >= 500 or status == 408:
        raise ProviderUnavailable(f"{where}: HTTP {status}")
    code = error_code(await _read_small(response))
    shown = f" ({code})" if code else ""
    if status == 404:
        hint = ": team not found (check team_id) or the endpoint moved"
    elif status == 400:
        hint = ": the API refused the request (from/to or teamId)"
    elif 300 <= status <= 399:
        hint = ": a redirect (point api_base at the final address)"
    else:
        hint = ""
    raise UnexpectedResponse(f"{where}: HTTP {status}{shown}{hint}")


async def _stream_lines(response: httpx.Response, where: str, on_line: LineConsumer) -> int:
    buffer = b""
    number = 0
    async for chunk in response.aiter_bytes():
        parts = (buffer + chunk).split(b"\n")
        buffer = parts.pop()
        for part in parts:
            number += 1
            on_line(number, part.rstrip(b"\r"))
        if len(buffer) > MAX_LINE_BYTES:
            raise UnexpectedResponse(
                f"{where}: line {number + 1} is longer than {MAX_LINE_BYTES} bytes: not JSONL"
            )
    if buffer:
        number += 1
        on_line(number, buffer.rstrip(b"\r"))
    return number


async def fetch_charges(
    client: httpx.AsyncClient,
    options: VercelOptions,
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    on_line: LineConsumer,
    on_rate_limit: RateLimitReporter | None = None,
) -> int:
    """Stream the FOCUS charges of [start, end) and hand each body line to `on_line`.

    Returns the number of lines. The rate-limit headers of the answer (any status) go to
    `on_rate_limit`. 401/403 raise AuthError, 429 RateLimited, 5xx, 408, timeouts and
    connection errors ProviderUnavailable, other statuses and an HTML body UnexpectedResponse.
    Messages name the URL without its query string and never a header value.
    """
    url = charges_url(options)
    where = f"GET {url}"
    params = {"from": format_instant(start), "to": format_instant(end)}
    if options.team_id is not None:
        params["teamId"] = options.team_id
    headers = {
        "Authorization": f"Bearer {options.token.get_secret_value()}",
        "Accept": "application/jsonl",
    }
    failure: Exception | None = None
    lines = 0
    try:
        async with client.stream("GET", url, params=params, headers=headers) as response:
            log.debug("%s -> HTTP %d", where, response.status_code)
            status = rate_limit_status(response.headers, now)
            if status is not None and on_rate_limit is not None:
                on_rate_limit(status)
            await _check_status(response, where, now)
            kind = response.headers.get("content-type", "").split(";")[0].strip().casefold()
            if kind.startswith("text/html"):
                raise UnexpectedResponse(f"{where}: HTTP 200 with an HTML body, not JSONL")
            lines = await _stream_lines(response, where, on_line)
    except httpx.TimeoutException as exc:
        failure = ProviderUnavailable(f"{where}: timed out ({type(exc).__name__})")
    except httpx.TransportError as exc:
        failure = ProviderUnavailable(f"{where}: request failed ({type(exc).__name__})")
    except httpx.HTTPError as exc:
        # Bad content encodings and the like: an answer we cannot read.
        failure = UnexpectedResponse(f"{where}: unreadable response ({type(exc).__name__})")
    if failure is not None:
        # Raised outside the except clause: httpx exceptions hold the request and its headers.
        raise failure
    return lines
