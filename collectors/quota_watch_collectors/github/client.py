"""GitHub's billing usage endpoint on the SDK's HTTP kit: endpoint, auth headers and quirks."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

from pydantic import ValidationError

from quota_watch.sdk import (
    Answer,
    AuthError,
    CollectorError,
    ProviderHttp,
    Quirks,
    RateLimitStatus,
    header_number,
    rate_limit_headers,
)
from quota_watch_collectors.github.models import ApiError, UsageReport
from quota_watch_collectors.github.options import GitHubOptions

if TYPE_CHECKING:
    import httpx

__all__ = ["MAX_RESPONSE_BYTES", "GitHubClient"]

# A month of daily items for a busy organization is a few MB; anything near this is not a report.
MAX_RESPONSE_BYTES = 64 * 2**20
# GitHub's advice for a secondary rate limit without retry-after or reset headers.
_SECONDARY_WAIT = 60.0
_SAFE_PERMISSIONS = re.compile(r"[^A-Za-z0-9_:=,;. -]")

RateLimitSink = Callable[[RateLimitStatus], None]


def _message(answer: Answer) -> str:
    """GitHub's error `message` ("" when the body has none); the kit scrubs and trims it."""
    try:
        return ApiError.model_validate_json(answer.content).message
    except ValidationError:
        return ""


class _GitHubQuirks(Quirks):
    """403 may be a rate limit; 404 hides what a token cannot see; permission hints."""

    def __init__(self, options: GitHubOptions) -> None:
        self.options = options

    def failure(self, answer: Answer) -> CollectorError | None:
        if answer.status != 404:
            return None
        return AuthError(
            f"{answer.where}: HTTP 404: {self.options.account!r} was not found, or the token "
            "may not read its billing (GitHub answers 404 to hide what a token cannot see)"
        )

    def detail(self, answer: Answer) -> str:
        return _message(answer)

    def rate_limited(self, answer: Answer) -> bool:
        # A secondary limit sends retry-after; a primary one x-ratelimit-remaining 0; a limit
        # with neither says so in its message.
        if answer.throttled:
            return True
        return answer.forbidden and (
            header_number(answer.headers, "retry-after") is not None
            or header_number(answer.headers, "x-ratelimit-remaining") == 0
            or "rate limit" in _message(answer).lower()
        )

    def retry_after(self, answer: Answer, now: datetime) -> float | None:
        retry_after = header_number(answer.headers, "retry-after")
        if retry_after is not None:
            return retry_after
        if header_number(answer.headers, "x-ratelimit-remaining") == 0:
            reset = header_number(answer.headers, "x-ratelimit-reset")
            if reset is not None:
                return max(1.0, reset - now.timestamp())
        return _SECONDARY_WAIT

    def refused(self, answer: Answer) -> str:
        if answer.unauthorized:
            return "the token was rejected (expired, revoked or mistyped)"
        # Permission and scope names, not credentials: safe to show once filtered.
        accepted = answer.headers.get("x-accepted-github-permissions")
        if accepted:
            needed = _SAFE_PERMISSIONS.sub("", accepted)[:100]
            return f"the token lacks a permission; GitHub accepts: {needed}"
        scopes = answer.headers.get("x-accepted-oauth-scopes")
        if scopes:
            needed = _SAFE_PERMISSIONS.sub("", scopes)[:100]
            return f"the token lacks a scope; GitHub accepts: {needed}"
        if self.options.personal:
            return (
                "the token may not read this user's billing: it must belong to the user itself, "
                "and a fine-grained token needs the 'Plan' user permission (read)"
            )
        return (
            "the token may not read this organization's billing: its owner must be an "
            "organization owner or billing manager, and a fine-grained token needs the "
            "'Administration' organization permission (read)"
        )


class GitHubClient:
    """The usage report of one account, with GitHub's headers, status codes and rate limits."""

    def __init__(self, http: httpx.AsyncClient, options: GitHubOptions) -> None:
        self.http = http
        self.options = options
        kind = "users" if options.personal else "organizations"
        self.path = f"/{kind}/{quote(options.account, safe='')}/settings/billing/usage"
        self.url = options.api_base + self.path
        self.quirks = _GitHubQuirks(options)

    @property
    def where(self) -> str:
        """How messages name the endpoint (no query string, no credentials)."""
        return f"GET {self.url}"

    async def usage(
        self,
        *,
        year: int,
        month: int,
        day: int | None = None,
        now: datetime,
        on_rate_limit: RateLimitSink | None = None,
    ) -> UsageReport:
        """The report for one month (or one day of it): year and month are always sent."""
        params = {"year": str(year), "month": str(month)}
        if day is not None:
            params["day"] = str(day)

        def note(answer: Answer) -> None:
            status = rate_limit_headers(answer.headers, now)
            if status is not None and on_rate_limit is not None:
                on_rate_limit(status)

        token = self.options.token.get_secret_value()
        http = ProviderHttp(
            self.http,
            now=now,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": self.options.api_version,
            },
            secrets=[token],
            max_body=MAX_RESPONSE_BYTES,
            quirks=self.quirks,
            on_answer=note,
        )
        answer = await http.get(self.url, params=params, where=self.where)
        return answer.model(UsageReport)
