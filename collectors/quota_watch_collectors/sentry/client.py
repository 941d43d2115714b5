"""Sentry's API on the SDK's HTTP kit: the bearer token, its error body and rate-limit headers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

from quota_watch.sdk import Answer, ProviderHttp, Quirks, header_number, retry_after_seconds
from quota_watch_collectors.sentry.models import Stats
from quota_watch_collectors.sentry.options import SentryOptions

if TYPE_CHECKING:
    import httpx

__all__ = ["MAX_RESPONSE_BYTES", "SentryApi", "sentry_rate_limit"]

MAX_RESPONSE_BYTES = 4 * 2**20

RateLimitReporter = Callable[[float, float | None, datetime | None], None]


def _epoch(headers: httpx.Headers, name: str) -> datetime | None:
    seconds = header_number(headers, name)
    try:
        return None if seconds is None else datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def sentry_rate_limit(headers: httpx.Headers) -> tuple[float, float | None, datetime | None] | None:
    """(remaining, limit, resets_at) from Sentry's X-Sentry-Rate-Limit-* headers, or None."""
    remaining = header_number(headers, "x-sentry-rate-limit-remaining")
    if remaining is None:
        return None
    limit = header_number(headers, "x-sentry-rate-limit-limit")
    return (remaining, limit, _epoch(headers, "x-sentry-rate-limit-reset"))


class _SentryQuirks(Quirks):
    """Sentry's {"detail": ...} error body and its X-Sentry-Rate-Limit-Reset epoch."""

    def __init__(self, options: SentryOptions) -> None:
        self.options = options

    def detail(self, answer: Answer) -> str:
        body = answer.json_or_none()
        said = body.get("detail") if isinstance(body, dict) else None
        return f"Sentry says: {said}" if isinstance(said, str) and said else ""

    def refused(self, answer: Answer) -> str:
        if answer.unauthorized:
            return "the token is invalid, expired or revoked"
        return (
            f"the token may not read organization {self.options.organization!r}'s stats: "
            "use an organization auth token, or a user token with the org:read scope"
        )

    def retry_after(self, answer: Answer, now: datetime) -> float | None:
        headers = answer.headers
        wait = retry_after_seconds(headers.get("retry-after"), now=now)
        if wait is not None:
            return wait
        reset = _epoch(headers, "x-sentry-rate-limit-reset")
        return None if reset is None else max(0.0, (reset - now).total_seconds())


class SentryApi:
    """The stats_v2 endpoint of one organization, under `api_base`, with the bearer token."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        options: SentryOptions,
        *,
        now: datetime,
        report_rate_limit: RateLimitReporter | None = None,
    ) -> None:
        token = options.token.get_secret_value()
        self._org = quote(options.organization, safe="")
        self._report = report_rate_limit
        self._http = ProviderHttp(
            client,
            now=now,
            base_url=options.api_base,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            secrets=[token],
            max_body=MAX_RESPONSE_BYTES,
            quirks=_SentryQuirks(options),
            on_answer=self._note_rate_limit,
        )

    async def stats(self, params: Mapping[str, str | list[str]]) -> Stats:
        """GET /organizations/{org}/stats_v2/ with `params` (repeatable ones as lists)."""
        import httpx

        query = httpx.QueryParams(params)
        path = f"/organizations/{self._org}/stats_v2/?{query}"
        return (await self._http.get(path)).model(Stats)

    def _note_rate_limit(self, answer: Answer) -> None:
        status = sentry_rate_limit(answer.headers)
        if status is not None and self._report is not None:
            self._report(*status)
