"""One request to the configured endpoint, mapped to the SDK's typed errors; returns parsed JSON."""

from __future__ import annotations

import email.utils
import json
import logging
import math
from datetime import UTC, datetime
from typing import Any

import httpx

from quota_watch.sdk import (
    AuthError,
    ProviderUnavailable,
    RateLimited,
    UnexpectedResponse,
)
from quota_watch_collectors.http_json.options import HttpJsonOptions

__all__ = ["fetch_json", "retry_after_seconds"]

log = logging.getLogger(__name__)


def _http_date(value: str) -> datetime | None:
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    # HTTP dates are always GMT; a date without a zone is read as such.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def retry_after_seconds(
    value: str | None, *, now: datetime, date: str | None = None
) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP date.

    An HTTP date is measured from the response's own Date header when it has one (so a skewed
    local clock does not matter), else from `now`. Unparseable values give None.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    when = _http_date(text)
    if when is None:
        return None
    reference = _http_date(date) if date else None
    return max(0.0, (when - (reference or now)).total_seconds())


def _scrub(text: str, options: HttpJsonOptions) -> str:
    """Remove every secret the request carries from a message (defence in depth)."""
    secrets = [v.get_secret_value() for v in options.headers.values()]
    url = httpx.URL(str(options.url))
    secrets += [url.password or "", url.query.decode(errors="replace")]
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


async def fetch_json(client: httpx.AsyncClient, options: HttpJsonOptions, *, now: datetime) -> Any:
    """Send the configured request and return the decoded JSON body.

    401/403 (`auth_statuses`) raise AuthError, 429 RateLimited, 5xx, 408, timeouts and
    connection errors ProviderUnavailable, anything else that is not 2xx, a body that is not
    JSON or one larger than `max_response_size` UnexpectedResponse. Messages name the URL
    without user info or query string and never a header value.
    """
    where = f"{options.method} {options.display_url}"
    headers = {name: value.get_secret_value() for name, value in options.headers.items()}
    failure: Exception | None = None
    try:
        async with client.stream(
            options.method,
            str(options.url),
            headers=headers,
            json=options.body,
            timeout=(
                httpx.USE_CLIENT_DEFAULT
                if options.timeout is None
                else options.timeout.total_seconds()
            ),
        ) as response:
            log.debug("%s -> HTTP %d", where, response.status_code)
            _check_status(response, options, where, now)
            content = await _read_limited(response, options.max_response_size, where)
    except httpx.TimeoutException as exc:
        failure = ProviderUnavailable(f"{where}: timed out ({type(exc).__name__})")
    except httpx.TransportError as exc:
        detail = _scrub(str(exc), options) or type(exc).__name__
        failure = ProviderUnavailable(f"{where}: request failed: {detail}")
    except httpx.HTTPError as exc:
        # Redirect loops and bad content encodings: a response we cannot use.
        failure = UnexpectedResponse(f"{where}: {type(exc).__name__}")
    if failure is not None:
        # Raised outside the except clause, so no httpx exception (which holds the request
        # and its headers) rides along as __context__.
        raise failure
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError):
        pass
    kind = response.headers.get("content-type", "no content type")
    raise UnexpectedResponse(
        f"{where}: the response body is not JSON ({len(content)} bytes, {kind})"
    )


def _check_status(
    response: httpx.Response, options: HttpJsonOptions, where: str, now: datetime
) -> None:
    status = response.status_code
    if status in options.auth_statuses:
        raise AuthError(f"{where}: HTTP {status}: credentials rejected or lacking a permission")
    if status == 429:
        retry_after = retry_after_seconds(
            response.headers.get("retry-after"), now=now, date=response.headers.get("date")
        )
        shown = "" if retry_after is None else f"; retry after {retry_after:g}s"
        raise RateLimited(f"{where}: HTTP 429 Too Many Requests{shown}", retry_after=retry_after)
    if status >= 500 or status == 408:
        raise ProviderUnavailable(f"{where}: HTTP {status}")
    if not 200 <= status <= 299:
        hint = " (a redirect: set url to the final address)" if 300 <= status <= 399 else ""
        raise UnexpectedResponse(f"{where}: HTTP {status}{hint}")


async def _read_limited(response: httpx.Response, limit: int, where: str) -> bytes:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise UnexpectedResponse(
            f"{where}: response of {declared} bytes exceeds max_response_size ({limit})"
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise UnexpectedResponse(f"{where}: response exceeds max_response_size ({limit} bytes)")
        chunks.append(chunk)
    return b"".join(chunks)
