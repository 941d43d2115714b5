"""One PromQL instant query (GET /api/v1/query) on the SDK's HTTP kit: auth and API errors."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import ValidationError

from quota_watch.sdk import (
    Answer,
    CollectorError,
    ProviderHttp,
    ProviderUnavailable,
    Quirks,
    UnexpectedResponse,
)
from quota_watch_collectors.prometheus.models import QueryData, QueryResponse
from quota_watch_collectors.prometheus.options import PrometheusOptions

if TYPE_CHECKING:
    import httpx

__all__ = ["auth_headers", "instant_query", "secrets"]

# Prometheus answers a bad query with 400 or 422 and a JSON error body: those answers are
# read as API errors, not mapped as HTTP failures.
_API_ERROR_STATUSES = frozenset({400, 422})
# errorType values meaning "try again later" (the rest: the query itself is wrong).
_TRANSIENT_ERRORS = frozenset({"timeout", "canceled", "unavailable"})
_MAX_ERROR_TEXT = 300


def auth_headers(options: PrometheusOptions) -> dict[str, str]:
    """The Authorization header the options ask for (basic or bearer), or none."""
    if options.username is not None and options.password is not None:
        pair = f"{options.username}:{options.password.get_secret_value()}".encode()
        return {"Authorization": f"Basic {base64.b64encode(pair).decode('ascii')}"}
    if options.bearer_token is not None:
        return {"Authorization": f"Bearer {options.bearer_token.get_secret_value()}"}
    return {}


def secrets(options: PrometheusOptions) -> list[str]:
    """Every credential of the options, to be scrubbed from messages."""
    found = [s.get_secret_value() for s in (options.password, options.bearer_token) if s]
    found += [v.split(" ", 1)[1] for v in auth_headers(options).values()]
    return found


def _envelope(answer: Answer) -> QueryResponse | None:
    try:
        return QueryResponse.model_validate_json(answer.content)
    except (ValidationError, ValueError):
        return None


def _api_error(envelope: QueryResponse, where: str) -> CollectorError:
    kind = envelope.error_type or "unknown"
    text = " ".join((envelope.error or "").split())[:_MAX_ERROR_TEXT]
    message = f"{where}: Prometheus error {kind}: {text or '(no message)'}"
    if kind in _TRANSIENT_ERRORS:
        return ProviderUnavailable(message)
    return UnexpectedResponse(message)


class PrometheusQuirks(Quirks):
    """A `status: "error"` envelope (under 200, 400, 422 or a 5xx) is the API's own error."""

    redirect_hint = "a redirect: set api_base to the final address"

    def failure(self, answer: Answer) -> CollectorError | None:
        if answer.ok or answer.status in _API_ERROR_STATUSES or answer.unavailable:
            envelope = _envelope(answer)
            if envelope is not None and envelope.status == "error":
                return _api_error(envelope, answer.where)
        if answer.status in _API_ERROR_STATUSES:
            return UnexpectedResponse(
                f"{answer.where}: HTTP {answer.status} without a Prometheus error body"
            )
        return None


async def instant_query(
    client: httpx.AsyncClient,
    options: PrometheusOptions,
    query: str,
    *,
    now: datetime,
    where: str,
) -> QueryData:
    """Evaluate `query` at `now`; the response's `data`, or the typed error its status means.

    HTTP 401/403 raise AuthError, 429 RateLimited, 5xx/408/timeouts ProviderUnavailable
    (the kit's mapping); a `status: "error"` body raises ProviderUnavailable for
    timeout/canceled/unavailable and UnexpectedResponse for anything else (bad_data,
    execution); a body that is not the documented envelope raises UnexpectedResponse.
    """
    http = ProviderHttp(
        client,
        now=now,
        headers=auth_headers(options),
        secrets=secrets(options),
        max_body=options.max_response_size,
        quirks=PrometheusQuirks(),
        max_body_option="max_response_size",
    )
    answer = await http.request(
        "GET",
        options.query_url,
        params={"query": query, "time": f"{now.timestamp():.3f}"},
        where=f"GET {options.query_url} ({where})",
        request_timeout=None if options.timeout is None else options.timeout.total_seconds(),
    )
    envelope = _envelope(answer)
    if envelope is None:
        raise UnexpectedResponse(
            f"{answer.where}: HTTP {answer.status}: the body is not a Prometheus API response "
            f"({len(answer.content)} bytes)"
        )
    if envelope.data is None:
        raise UnexpectedResponse(f"{answer.where}: HTTP {answer.status} without data")
    return envelope.data
