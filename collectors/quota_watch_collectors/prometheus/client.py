"""One PromQL instant query (GET /api/v1/query), mapped to the SDK's typed errors."""

from __future__ import annotations

import json
import logging
from datetime import datetime

import httpx
from pydantic import ValidationError

from quota_watch.sdk import (
    AuthError,
    ProviderUnavailable,
    RateLimited,
    UnexpectedResponse,
    read_body,
    retry_after_seconds,
)
from quota_watch_collectors.prometheus.models import QueryData, QueryResponse
from quota_watch_collectors.prometheus.options import PrometheusOptions

__all__ = ["instant_query"]

log = logging.getLogger(__name__)

# Prometheus answers a bad query with 400 or 422 and a JSON error body: those statuses are
# read as API errors below, not mapped as HTTP failures.
_API_ERROR_STATUSES = frozenset({400, 422})
# errorType values meaning "try again later" (the rest: the query itself is wrong).
_TRANSIENT_ERRORS = frozenset({"timeout", "canceled", "unavailable"})
_MAX_ERROR_TEXT = 300


def _auth(options: PrometheusOptions) -> tuple[httpx.Auth | None, dict[str, str]]:
    if options.username is not None and options.password is not None:
        return httpx.BasicAuth(options.username, options.password.get_secret_value()), {}
    if options.bearer_token is not None:
        return None, {"Authorization": f"Bearer {options.bearer_token.get_secret_value()}"}
    return None, {}


def _scrub(text: str, options: PrometheusOptions) -> str:
    """Remove the credentials from a message (defence in depth)."""
    for secret in (options.password, options.bearer_token):
        value = "" if secret is None else secret.get_secret_value()
        if len(value) >= 4:
            text = text.replace(value, "***")
    return text


def check_status(response: httpx.Response, where: str, now: datetime) -> None:
    """The HTTP status and transport mapping: raise the typed error a failed status means."""
    status = response.status_code
    if status in (401, 403):
        raise AuthError(f"{where}: HTTP {status}: credentials rejected or lacking a permission")
    if status == 429:
        retry_after = retry_after_seconds(
            response.headers.get("retry-after"), now=now, date=response.headers.get("date")
        )
        shown = "" if retry_after is None else f"; retry after {retry_after:g}s"
        raise RateLimited(f"{where}: HTTP 429 Too Many Requests{shown}", retry_after=retry_after)
    if status >= 500 or status == 408:
        raise ProviderUnavailable(f"{where}: HTTP {status}")
    if not 200 <= status <= 299 and status not in _API_ERROR_STATUSES:
        hint = " (a redirect: set api_base to the final address)" if 300 <= status <= 399 else ""
        raise UnexpectedResponse(f"{where}: HTTP {status}{hint}")


async def _get(
    client: httpx.AsyncClient, options: PrometheusOptions, query: str, where: str, now: datetime
) -> tuple[int, bytes]:
    auth, headers = _auth(options)
    failure: Exception
    try:
        async with client.stream(
            "GET",
            options.query_url,
            params={"query": query, "time": f"{now.timestamp():.3f}"},
            headers=headers,
            auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
            timeout=(
                httpx.USE_CLIENT_DEFAULT
                if options.timeout is None
                else options.timeout.total_seconds()
            ),
        ) as response:
            log.debug("%s -> HTTP %d", where, response.status_code)
            check_status(response, where, now)
            content = await read_body(
                response, options.max_response_size, f"{where} (see max_response_size)"
            )
            return response.status_code, content
    except httpx.TimeoutException as exc:
        failure = ProviderUnavailable(f"{where}: timed out ({type(exc).__name__})")
    except httpx.TransportError as exc:
        detail = _scrub(str(exc), options) or type(exc).__name__
        failure = ProviderUnavailable(f"{where}: request failed: {detail}")
    except httpx.HTTPError as exc:
        failure = UnexpectedResponse(f"{where}: {type(exc).__name__}")
    # Raised outside the except clause: the httpx exception holds the request and its headers.
    raise failure


def _api_error(envelope: QueryResponse, where: str) -> Exception:
    kind = envelope.error_type or "unknown"
    text = " ".join((envelope.error or "").split())[:_MAX_ERROR_TEXT]
    message = f"{where}: Prometheus error {kind}: {text or '(no message)'}"
    if kind in _TRANSIENT_ERRORS:
        return ProviderUnavailable(message)
    return UnexpectedResponse(message)


async def instant_query(
    client: httpx.AsyncClient,
    options: PrometheusOptions,
    query: str,
    *,
    now: datetime,
    where: str,
) -> QueryData:
    """Evaluate `query` at `now`; the response's `data`, or the typed error its status means.

    HTTP 401/403 raise AuthError, 429 RateLimited, 5xx/408/timeouts ProviderUnavailable;
    a `status: "error"` body raises ProviderUnavailable for timeout/canceled/unavailable and
    UnexpectedResponse for anything else (bad_data, execution); a body that is not the
    documented envelope raises UnexpectedResponse.
    """
    where = f"GET {options.query_url} ({where})"
    status, content = await _get(client, options, query, where, now)
    try:
        envelope = QueryResponse.model_validate(json.loads(content))
    except (ValueError, UnicodeDecodeError, ValidationError):
        # ValidationError is a ValueError; its text quotes the payload, so it is not shown.
        raise UnexpectedResponse(
            f"{where}: HTTP {status}: the body is not a Prometheus API response "
            f"({len(content)} bytes)"
        ) from None
    if envelope.status == "error":
        raise _api_error(envelope, where)
    if status in _API_ERROR_STATUSES or envelope.data is None:
        raise UnexpectedResponse(f"{where}: HTTP {status} without an error or data")
    return envelope.data
