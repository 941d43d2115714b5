"""The Supabase Management API on the SDK's HTTP kit: endpoints, auth and Supabase's quirks."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from quota_watch.sdk import (
    Answer,
    AuthError,
    CollectorError,
    ProviderHttp,
    Quirks,
    RateLimitStatus,
    UnexpectedResponse,
    rate_limit_headers,
)
from quota_watch.sdk import parse_model as validate
from quota_watch.sdk import wait_from_headers as retry_after_seconds
from quota_watch_collectors.supabase.models import AnalyticsError
from quota_watch_collectors.supabase.options import SupabaseOptions

if TYPE_CHECKING:
    import httpx

__all__ = [
    "EndpointGone",
    "Refused",
    "SupabaseApi",
    "analytics_failure",
    "retry_after_seconds",
    "validate",
]

# The Management API sends the seconds until its per-minute window resets in X-RateLimit-Reset
# (recorded in supabase/cli apps/cli-e2e/fixtures: "x-ratelimit-reset": "60"); the kit's
# retry_after_seconds reads that form.
MAX_RESPONSE_BYTES = 16 * 2**20
_MAX_DETAIL = 200

Refused = AuthError
"""HTTP 401 or 403: the token was rejected or lacks a permission (`status` says which)."""


class EndpointGone(UnexpectedResponse):
    """HTTP 404 or 410 from a path the collector relies on: retired or never available here."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def analytics_failure(error: str | AnalyticsError | None, where: str) -> UnexpectedResponse | None:
    """The analytics endpoints answer HTTP 200 with an `error` field: that is a failure, not 0."""
    if error is None or error == "":
        return None
    text = error if isinstance(error, str) else (error.message or error.status or "no message")
    text = " ".join(text.split())
    text = text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."
    return UnexpectedResponse(f"{where}: HTTP 200 with an error: {text}")


class _SupabaseQuirks(Quirks):
    """404/410 means a retired (or unavailable) endpoint; a 403 names the permission needed."""

    def __init__(self, permission: str) -> None:
        self.permission = permission

    def failure(self, answer: Answer) -> CollectorError | None:
        if answer.status in (404, 410):
            where = answer.where
            return EndpointGone(
                f"{where}: HTTP {answer.status}: no such endpoint or resource", answer.status
            )
        return None

    def detail(self, answer: Answer) -> str:
        """The `message` of an error body (a failed SQL query says why)."""
        body = answer.json_or_none()
        message = body.get("message") if isinstance(body, dict) else None
        return message if isinstance(message, str) else ""

    def refused(self, answer: Answer) -> str:
        if answer.unauthorized:
            return "the access token was rejected (expired, revoked or mistyped)"
        return f"the token lacks a permission: {self.permission}"


class SupabaseApi:
    """One poll's view of the Management API: JSON requests and the last rate-limit headers."""

    def __init__(self, client: httpx.AsyncClient, options: SupabaseOptions, now: datetime) -> None:
        self._now = now
        self.rate_limit: RateLimitStatus | None = None
        token = options.token.get_secret_value()
        self._http = ProviderHttp(
            client,
            now=now,
            base_url=options.api_base,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            secrets=[token],
            max_body=MAX_RESPONSE_BYTES,
            on_answer=self._note_rate_limit,
        )

    async def get(
        self, path: str, *, params: Mapping[str, str] | None = None, permission: str
    ) -> Any:
        """GET `path` (under api_base) and return its JSON body."""
        answer = await self._http.request(
            "GET", path, params=params, quirks=_SupabaseQuirks(permission)
        )
        return answer.json()

    async def post(self, path: str, body: Any, *, permission: str) -> Any:
        """POST a JSON body to `path` (under api_base) and return the JSON answer."""
        answer = await self._http.request(
            "POST", path, json=body, quirks=_SupabaseQuirks(permission)
        )
        return answer.json()

    def _note_rate_limit(self, answer: Answer) -> None:
        status = rate_limit_headers(answer.headers, self._now)
        if status is not None:
            self.rate_limit = status
