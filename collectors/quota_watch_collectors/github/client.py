"""Requests to GitHub's billing usage endpoint, mapped to the SDK's typed errors."""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from quota_watch.sdk import (
    AuthError,
    ProviderUnavailable,
    RateLimited,
    RateLimitStatus,
    UnexpectedResponse,
    read_body,
)
from quota_watch_collectors.github.models import ApiError, UsageReport
from quota_watch_collectors.github.options import GitHubOptions

__all__ = ["MAX_RESPONSE_BYTES", "GitHubClient", "parse_rate_limit"]

log = logging.getLogger(__name__)

# A month of daily items for a busy organization is a few MB; anything near this is not a report.
MAX_RESPONSE_BYTES = 64 * 2**20
# GitHub's advice for a secondary rate limit without retry-after or reset headers.
_SECONDARY_WAIT = 60.0
_SAFE_PERMISSIONS = re.compile(r"[^A-Za-z0-9_:=,;. -]")

RateLimitSink = Callable[[RateLimitStatus], None]


def _header_number(response: httpx.Response, name: str) -> float | None:
    raw = response.headers.get(name)
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def parse_rate_limit(response: httpx.Response) -> RateLimitStatus | None:
    """The x-ratelimit-remaining/-limit/-reset headers (reset: epoch seconds), when present."""
    remaining = _header_number(response, "x-ratelimit-remaining")
    if remaining is None:
        return None
    reset = _header_number(response, "x-ratelimit-reset")
    resets_at = None
    if reset is not None:
        try:
            resets_at = datetime.fromtimestamp(reset, UTC)
        except (OverflowError, OSError, ValueError):
            resets_at = None
    return RateLimitStatus(remaining, _header_number(response, "x-ratelimit-limit"), resets_at)


class GitHubClient:
    """The usage report of one account, with GitHub's headers, status codes and rate limits."""

    def __init__(self, http: httpx.AsyncClient, options: GitHubOptions) -> None:
        self.http = http
        self.options = options
        kind = "users" if options.personal else "organizations"
        self.path = f"/{kind}/{quote(options.account, safe='')}/settings/billing/usage"
        self.url = options.api_base + self.path

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
        headers = {
            "Authorization": f"Bearer {self.options.token.get_secret_value()}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": self.options.api_version,
        }
        failure: Exception | None = None
        try:
            async with self.http.stream("GET", self.url, params=params, headers=headers) as resp:
                log.debug("%s (%d-%02d) -> HTTP %d", self.where, year, month, resp.status_code)
                status = parse_rate_limit(resp)
                if status is not None and on_rate_limit is not None:
                    on_rate_limit(status)
                content = await read_body(resp, MAX_RESPONSE_BYTES, self.where)
                self._check_status(resp, content, now)
                return self._parse(content, resp)
        except httpx.TimeoutException as exc:
            failure = ProviderUnavailable(f"{self.where}: timed out ({type(exc).__name__})")
        except httpx.TransportError as exc:
            failure = ProviderUnavailable(f"{self.where}: request failed ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            failure = UnexpectedResponse(f"{self.where}: {type(exc).__name__}")
        # Raised outside the except clause: httpx exceptions hold the request and its headers.
        raise failure

    def _message(self, content: bytes) -> str:
        """GitHub's error `message`, cleaned and shortened; "" when the body has none."""
        try:
            body = ApiError.model_validate_json(content)
        except ValidationError:
            return ""
        text = " ".join(body.message.split())
        secret = self.options.token.get_secret_value()
        text = text.replace(secret, "***")
        return text[:200] + ("..." if len(text) > 200 else "")

    def _check_status(self, response: httpx.Response, content: bytes, now: datetime) -> None:
        status = response.status_code
        if 200 <= status <= 299:
            return
        message = self._message(content)
        said = f" ({message})" if message else ""
        if status in (403, 429):
            retry_after = self._rate_limit_wait(response, message, now)
            if retry_after is not None:
                raise RateLimited(
                    f"{self.where}: HTTP {status}: rate limited; retry after {retry_after:g}s",
                    retry_after=retry_after,
                )
        if status == 429:
            raise RateLimited(
                f"{self.where}: HTTP 429: rate limited{said}", retry_after=_SECONDARY_WAIT
            )
        if status == 401:
            raise AuthError(
                f"{self.where}: HTTP 401: the token was rejected (expired, revoked or "
                f"mistyped){said}"
            )
        if status == 403:
            raise AuthError(f"{self.where}: HTTP 403: {self._permission_hint(response)}{said}")
        if status == 404:
            raise AuthError(
                f"{self.where}: HTTP 404: {self.options.account!r} was not found, or the token "
                "may not read its billing (GitHub answers 404 to hide what a token cannot see)"
                f"{said}"
            )
        if status >= 500 or status == 408:
            raise ProviderUnavailable(f"{self.where}: HTTP {status}{said}")
        raise UnexpectedResponse(f"{self.where}: HTTP {status}{said}")

    def _rate_limit_wait(
        self, response: httpx.Response, message: str, now: datetime
    ) -> float | None:
        """Seconds to wait when a 403/429 is a rate limit, else None.

        GitHub: a secondary limit sends retry-after; a primary one sends x-ratelimit-remaining 0
        and the reset time; a limit with neither means waiting at least a minute.
        """
        retry_after = _header_number(response, "retry-after")
        if retry_after is not None:
            return retry_after
        if _header_number(response, "x-ratelimit-remaining") == 0:
            reset = _header_number(response, "x-ratelimit-reset")
            if reset is not None:
                return max(1.0, reset - now.timestamp())
            return _SECONDARY_WAIT
        if "rate limit" in message.lower():
            return _SECONDARY_WAIT
        return None

    def _permission_hint(self, response: httpx.Response) -> str:
        """What the token lacks, from GitHub's accepted-permission headers or the docs."""
        # Permission and scope names, not credentials: safe to show once filtered.
        accepted = response.headers.get("x-accepted-github-permissions")
        if accepted:
            needed = _SAFE_PERMISSIONS.sub("", accepted)[:100]
            return f"the token lacks a permission; GitHub accepts: {needed}"
        scopes = response.headers.get("x-accepted-oauth-scopes")
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

    def _parse(self, content: bytes, response: httpx.Response) -> UsageReport:
        try:
            document = json.loads(content)
        except (ValueError, UnicodeDecodeError):
            kind = response.headers.get("content-type", "no content type")
            raise UnexpectedResponse(
                f"{self.where}: the response body is not JSON ({len(content)} bytes, {kind})"
            ) from None
        try:
            return UsageReport.model_validate(document)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
                for err in exc.errors(include_input=False, include_url=False)[:5]
            )
            raise UnexpectedResponse(
                f"{self.where}: the usage report has an unknown shape: {problems}"
            ) from None
