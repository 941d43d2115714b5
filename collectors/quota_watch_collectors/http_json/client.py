"""One request to the configured endpoint, mapped to the SDK's typed errors; returns parsed JSON."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

import httpx

from quota_watch.sdk import (
    AuthError,
    ProviderUnavailable,
    RateLimited,
    UnexpectedResponse,
    read_body,
    retry_after_seconds,
)
from quota_watch_collectors.http_json.options import HttpJsonOptions

__all__ = ["fetch_json", "retry_after_seconds"]

log = logging.getLogger(__name__)


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
            content = await read_body(
                response, options.max_response_size, f"{where} (see max_response_size)"
            )
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
