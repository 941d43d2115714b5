"""HTTP calls to the Supabase Management API, mapped to the SDK's typed errors."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from quota_watch.sdk import (
    AuthError,
    ProviderUnavailable,
    RateLimited,
    RateLimitStatus,
    UnexpectedResponse,
)
from quota_watch.sdk import retry_after_seconds as sdk_retry_after
from quota_watch_collectors.supabase.models import AnalyticsError
from quota_watch_collectors.supabase.options import SupabaseOptions

__all__ = [
    "EndpointGone",
    "Refused",
    "SupabaseApi",
    "analytics_failure",
    "retry_after_seconds",
    "validate",
]

log = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)
_MAX_DETAIL = 200


class EndpointGone(UnexpectedResponse):
    """HTTP 404 or 410 from a path the collector relies on: retired or never available here."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class Refused(AuthError):
    """HTTP 401 or 403: the token was rejected or lacks a permission."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def validate(model: type[ModelT], data: Any, where: str) -> ModelT:
    """`data` as `model`, or UnexpectedResponse naming the fields that differ (never values)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        ]
    shown = "; ".join(problems[:3]) + (f" (+{len(problems) - 3} more)" if len(problems) > 3 else "")
    raise UnexpectedResponse(f"{where}: the response does not have the known shape: {shown}")


def analytics_failure(error: str | AnalyticsError | None, where: str) -> UnexpectedResponse | None:
    """The analytics endpoints answer HTTP 200 with an `error` field: that is a failure, not 0."""
    if error is None or error == "":
        return None
    text = error if isinstance(error, str) else (error.message or error.status or "no message")
    return UnexpectedResponse(f"{where}: HTTP 200 with an error: {_shorten(text)}")


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def retry_after_seconds(headers: httpx.Headers, now: datetime) -> float | None:
    """Seconds to wait: Retry-After (seconds or HTTP date), else the X-RateLimit-Reset seconds."""
    wait = sdk_retry_after(headers.get("retry-after"), now=now, date=headers.get("date"))
    if wait is not None:
        return wait
    # The Management API sends the seconds until its per-minute window resets (recorded in
    # supabase/cli apps/cli-e2e/fixtures: "x-ratelimit-reset": "60").
    return _seconds(headers.get("x-ratelimit-reset"))


class SupabaseApi:
    """One poll's view of the Management API: JSON requests and the last rate-limit headers."""

    def __init__(self, client: httpx.AsyncClient, options: SupabaseOptions, now: datetime) -> None:
        self._client = client
        self._options = options
        self._now = now
        self.rate_limit: RateLimitStatus | None = None

    async def get(
        self, path: str, *, params: Mapping[str, str] | None = None, permission: str
    ) -> Any:
        """GET `path` (under api_base) and return its JSON body."""
        return await self._request("GET", path, params=params, body=None, permission=permission)

    async def post(self, path: str, body: Any, *, permission: str) -> Any:
        """POST a JSON body to `path` (under api_base) and return the JSON answer."""
        return await self._request("POST", path, params=None, body=body, permission=permission)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None,
        body: Any,
        permission: str,
    ) -> Any:
        where = f"{method} {path}"
        headers = {
            "Authorization": f"Bearer {self._options.token.get_secret_value()}",
            "Accept": "application/json",
        }
        failure: Exception | None = None
        response: httpx.Response | None = None
        try:
            response = await self._client.request(
                method, self._options.api_base + path, params=params, json=body, headers=headers
            )
        except httpx.TimeoutException as exc:
            failure = ProviderUnavailable(f"{where}: timed out ({type(exc).__name__})")
        except httpx.TransportError as exc:
            failure = ProviderUnavailable(f"{where}: request failed ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            failure = UnexpectedResponse(f"{where}: {type(exc).__name__}")
        if failure is not None:
            # Raised outside the except clause: httpx exceptions hold the request and its headers.
            raise failure
        assert response is not None
        log.debug("%s -> HTTP %d", where, response.status_code)
        self._note_rate_limit(response.headers)
        self._check_status(response, where, permission)
        try:
            return json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            pass
        kind = response.headers.get("content-type", "no content type")
        raise UnexpectedResponse(f"{where}: the response body is not JSON ({kind})")

    def _note_rate_limit(self, headers: httpx.Headers) -> None:
        remaining = _seconds(headers.get("x-ratelimit-remaining"))
        if remaining is None:
            return
        limit = _seconds(headers.get("x-ratelimit-limit"))
        reset = _seconds(headers.get("x-ratelimit-reset"))
        resets_at = None if reset is None else self._now + timedelta(seconds=reset)
        self.rate_limit = RateLimitStatus(remaining, limit, resets_at)

    def _check_status(self, response: httpx.Response, where: str, permission: str) -> None:
        status = response.status_code
        if 200 <= status <= 299:
            return
        if status == 401:
            raise Refused(
                f"{where}: HTTP 401: the access token was rejected (expired, revoked or mistyped)",
                status,
            )
        if status == 403:
            raise Refused(f"{where}: HTTP 403: the token lacks a permission: {permission}", status)
        if status == 429:
            retry_after = retry_after_seconds(response.headers, self._now)
            shown = "" if retry_after is None else f"; retry after {retry_after:g}s"
            raise RateLimited(
                f"{where}: HTTP 429: over the Management API rate limit{shown}",
                retry_after=retry_after,
            )
        if status >= 500 or status == 408:
            raise ProviderUnavailable(f"{where}: HTTP {status}")
        if status in (404, 410):
            raise EndpointGone(f"{where}: HTTP {status}: no such endpoint or resource", status)
        raise UnexpectedResponse(f"{where}: HTTP {status}{self._detail(response)}")

    def _detail(self, response: httpx.Response) -> str:
        """The `message` of a 4xx body (a failed SQL query says why), without any secret."""
        try:
            message = json.loads(response.content).get("message")
        except (ValueError, UnicodeDecodeError, AttributeError):
            return ""
        if not isinstance(message, str) or not message:
            return ""
        token = self._options.token.get_secret_value()
        if len(token) >= 4:
            message = message.replace(token, "***")
        return f": {_shorten(message)}"
