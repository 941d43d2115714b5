"""Cloudflare's v4 REST API and GraphQL Analytics API on the SDK's HTTP kit.

REST answers carry the `{success, errors, messages, result, result_info}` envelope; GraphQL
answers carry `{data, errors}`. Both can report a failure under HTTP 200: those, Cloudflare's
auth error codes and its rate-limit headers are the quirks kept here; the kit maps the rest.
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from quota_watch.sdk import (
    Answer,
    AuthError,
    CollectorError,
    ProviderHttp,
    ProviderUnavailable,
    Quirks,
    RateLimited,
    RateLimitStatus,
    UnexpectedResponse,
    numbered_pages,
    rate_limit_headers,
    retry_after_seconds,
)
from quota_watch.sdk import describe_problems as describe_validation_error
from quota_watch_collectors.cloudflare.models import (
    CfMessage,
    Envelope,
    GraphQLEnvelope,
    ResultInfo,
)
from quota_watch_collectors.cloudflare.options import CloudflareOptions

if TYPE_CHECKING:
    import httpx

__all__ = [
    "ANALYTICS_PERMISSION",
    "AUTH_ERROR_CODES",
    "CloudflareApi",
    "describe_validation_error",
    "parse_rate_limit",
    "retry_after_seconds",
]

ANALYTICS_PERMISSION = "Account > Account Analytics > Read"
# v4 error codes that mean the credentials were rejected: 1000 invalid API token, 6003 invalid
# request headers (with 6100-6111 in its error_chain: malformed Authorization / X-Auth-*),
# 9103/9106/9109 unknown or missing credentials / unauthorized, 10000 authentication error.
AUTH_ERROR_CODES = frozenset({1000, 6003, 6100, 6101, 6102, 6103, 6111, 9103, 9106, 9109, 10000})
_MAX_BODY = 32 * 2**20
_GRAPHQL_RATE = re.compile(
    r"rate limiter budget depleted|too many nodes|consumed excessive resources", re.I
)
_GRAPHQL_AUTH = re.compile(
    r"\bunauthori[sz]ed\b|not authorized|does not have access|authentication", re.I
)
_GRAPHQL_BUSY = re.compile(
    r"unable to execute query|too many queries in progress|internal server error", re.I
)
_GRAPHQL_UNKNOWN_FIELD = re.compile(
    r"unknown (field|argument|type)|cannot query field|undefined field"
    r"|field .* not (found|defined)",
    re.I,
)
_WAIT_IN_TEXT = re.compile(r"after (\d+(?:\.\d+)?) ?(second|minute|hour)s?", re.I)
_WAIT_UNITS = {"second": 1.0, "minute": 60.0, "hour": 3600.0}


# --- rate-limit headers -----------------------------------------------------------------------


def _items(header: str) -> list[tuple[str, dict[str, str]]]:
    """Items of an IETF structured-field list like `"default";r=50;t=30, "burst";r=3;t=1`."""
    found: list[tuple[str, dict[str, str]]] = []
    for item in header.split(","):
        parts = [p.strip() for p in item.split(";") if p.strip()]
        if not parts:
            continue
        params: dict[str, str] = {}
        for part in parts[1:]:
            key, _, value = part.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        found.append((parts[0].strip('"'), params))
    return found


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else math.nan
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def parse_rate_limit(headers: httpx.Headers, now: datetime) -> RateLimitStatus | None:
    """The request budget a response reports, or None when it reports none.

    Cloudflare sends `Ratelimit: "default";r=<remaining>;t=<seconds to reset>` and
    `Ratelimit-Policy: "default";q=<quota>;w=<window>` (IETF draft form; the item with the
    least remaining wins, its quota taken from the policy of the same name); older answers
    carry the X-RateLimit-* headers (reset: an RFC 1123 date or seconds).
    """
    return _draft_rate_limit(headers, now) or rate_limit_headers(headers, now)


def _draft_rate_limit(headers: httpx.Headers, now: datetime) -> RateLimitStatus | None:
    header = headers.get("ratelimit")
    if not header:
        return None
    quotas = {
        name: q
        for name, params in _items(headers.get("ratelimit-policy", ""))
        if (q := _number(params.get("q"))) is not None
    }
    best: RateLimitStatus | None = None
    for name, params in _items(header):
        remaining = _number(params.get("r"))
        if remaining is None:
            continue
        reset = _number(params.get("t"))
        resets_at = None if reset is None else now + timedelta(seconds=reset)
        status = RateLimitStatus(remaining, quotas.get(name), resets_at)
        if best is None or status.remaining < best.remaining:
            best = status
    return best


def _codes(errors: Sequence[CfMessage]) -> set[int]:
    codes: set[int] = set()
    for error in errors:
        if error.code is not None:
            codes.add(error.code)
        codes |= _codes(error.error_chain or [])
    return codes


def _document(answer: Answer) -> dict[str, Any] | None:
    document = answer.json_or_none()
    return document if isinstance(document, dict) else None


# --- quirks -----------------------------------------------------------------------------------


class _CloudflareQuirks(Quirks):
    """Retry advice in the error text; what to grant when refused."""

    def __init__(self, advice: str) -> None:
        self.advice = advice

    def refused(self, answer: Answer) -> str:
        return f"credentials rejected; the token needs {self.advice}"

    def retry_after(self, answer: Answer, now: datetime) -> float | None:
        headers = answer.headers
        wait = retry_after_seconds(headers.get("retry-after"), now=now, date=headers.get("date"))
        match = _WAIT_IN_TEXT.search(self.detail(answer)) if wait is None else None
        if match is not None:
            wait = float(match.group(1)) * _WAIT_UNITS[match.group(2).lower()]
        return wait

    def not_an_object(self, answer: Answer) -> UnexpectedResponse:
        kind = answer.headers.get("content-type", "no content type")
        return UnexpectedResponse(
            f"{answer.where}: the body is not a JSON object ({len(answer.content)} bytes, {kind})"
        )


class _RestQuirks(_CloudflareQuirks):
    """The v4 envelope: success=false and auth error codes, also under HTTP 200 and 400."""

    def _envelope(self, answer: Answer) -> Envelope | None:
        document = _document(answer)
        try:
            return None if document is None else Envelope.model_validate(document)
        except ValidationError:
            return None

    def failure(self, answer: Answer) -> CollectorError | None:
        document = _document(answer)
        if answer.ok and document is None:
            return self.not_an_object(answer)
        try:
            envelope = None if document is None else Envelope.model_validate(document)
        except ValidationError as exc:
            if answer.ok:
                problems = describe_validation_error(exc, "body")
                return UnexpectedResponse(f"{answer.where}: {problems}")
            return None
        codes = _codes(envelope.errors) if envelope is not None else set()
        said = self.detail(answer)
        suffix = f" ({said})" if said else ""
        if codes & AUTH_ERROR_CODES and (answer.ok or answer.status == 400):
            return AuthError(
                f"{answer.where}: HTTP {answer.status}{suffix}: {self.refused(answer)}"
            )
        if answer.ok and envelope is not None and not envelope.success:
            return UnexpectedResponse(
                f"{answer.where}: HTTP {answer.status} with success=false"
                + (suffix or " and no error detail")
            )
        return None

    def detail(self, answer: Answer) -> str:
        envelope = self._envelope(answer)
        if envelope is None or not envelope.errors:
            return ""
        shown = []
        for error in envelope.errors[:3]:
            chain = ", ".join(
                f"{c.message} [{c.code}]" for c in (error.error_chain or [])[:3] if c.message
            )
            text = f"{error.message} [code {error.code}]" if error.code else error.message
            shown.append(text + (f" ({chain})" if chain else ""))
        return "; ".join(shown)


class _GraphQLQuirks(_CloudflareQuirks):
    """`errors` under any status: rate limits, refusals and busy nodes said in words."""

    def __init__(self, advice: str, hints: Mapping[str, str], now: datetime) -> None:
        super().__init__(advice)
        self.hints = hints
        self.now = now

    def _envelope(self, answer: Answer) -> GraphQLEnvelope | None:
        document = _document(answer)
        try:
            return None if document is None else GraphQLEnvelope.model_validate(document)
        except ValidationError:
            return None

    def failure(self, answer: Answer) -> CollectorError | None:
        document = _document(answer)
        try:
            envelope = None if document is None else GraphQLEnvelope.model_validate(document)
        except ValidationError as exc:
            if answer.ok:
                problems = describe_validation_error(exc, "body")
                return UnexpectedResponse(f"{answer.where}: {problems}")
            return None
        if envelope is None or not envelope.errors:
            if not answer.ok:
                return None
            if envelope is None:
                return self.not_an_object(answer)
            if envelope.data is None:
                return UnexpectedResponse(f"{answer.where}: no data and no errors in the response")
            return None
        text = " ".join(e.message for e in envelope.errors)
        shown = f"{answer.where}: HTTP {answer.status}, GraphQL error: {self.detail(answer)}"
        if _GRAPHQL_RATE.search(text):
            wait = self.retry_after(answer, self.now)
            return RateLimited(
                shown + ("" if wait is None else f"; retry after {wait:g}s"), retry_after=wait
            )
        if _GRAPHQL_AUTH.search(text):
            return AuthError(f"{shown}; the token needs {self.advice}")
        if _GRAPHQL_BUSY.search(text):
            return ProviderUnavailable(shown)
        return UnexpectedResponse(shown) if answer.ok else None

    def detail(self, answer: Answer) -> str:
        envelope = self._envelope(answer)
        errors = list(envelope.errors or []) if envelope is not None else []
        if not errors:
            return ""
        messages = [e.message or "(no message)" for e in errors]
        paths = {str(part) for e in errors for part in (e.path or [])}
        detail = "; ".join(messages[:3]) + (
            f" (and {len(messages) - 3} more)" if len(messages) > 3 else ""
        )
        advice = _advice(" ".join(messages), paths, self.hints)
        return detail + (f" ({advice})" if advice else "")


def _advice(text: str, paths: set[str], hints: Mapping[str, str]) -> str:
    """The options to switch off for the fields, datasets or aliases an error names: a hint
    applies when its name is in an error's path, or appears in an unknown-field message."""
    unknown_field = bool(_GRAPHQL_UNKNOWN_FIELD.search(text))
    lowered = text.lower()
    found: list[str] = []
    for name, advice in hints.items():
        named = name in paths or (unknown_field and name.lower() in lowered)
        if named and advice not in found:
            found.append(advice)
    return "; ".join(found)


def _total_pages(info: ResultInfo | None) -> int | None:
    if info is None:
        return None
    if info.total_pages is not None:
        return int(info.total_pages)
    if info.total_count is not None and info.per_page:
        return max(1, math.ceil(info.total_count / info.per_page))
    return None


# --- the API ----------------------------------------------------------------------------------


class CloudflareApi:
    """One poll's view of the Cloudflare API: REST GETs, paginated lists and GraphQL queries.

    `on_rate_limit` receives the lowest request budget any response of this poll reported.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        options: CloudflareOptions,
        *,
        now: datetime,
        on_rate_limit: Callable[[RateLimitStatus], None] | None = None,
    ) -> None:
        self._options = options
        self._now = now
        self._on_rate_limit = on_rate_limit
        self._lowest: RateLimitStatus | None = None
        token = options.token.get_secret_value()
        self._http = ProviderHttp(
            http,
            now=now,
            base_url=options.api_base,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            secrets=[token],
            max_body=_MAX_BODY,
            on_answer=self._track,
        )

    def _track(self, answer: Answer) -> None:
        status = parse_rate_limit(answer.headers, self._now)
        if status is None:
            return
        if self._lowest is None or status.remaining <= self._lowest.remaining:
            self._lowest = status
            if self._on_rate_limit is not None:
                self._on_rate_limit(status)

    async def get(
        self, path: str, *, permission: str, params: Mapping[str, str] | None = None, hint: str = ""
    ) -> Envelope:
        """GET a v4 REST path and return its envelope (success checked).

        `permission` names the token permission the call needs and `hint` how to avoid the
        call; both appear in the AuthError raised on 401/403 or an auth error code.
        """
        quirks = _RestQuirks(permission + (f", or {hint}" if hint else ""))
        answer = await self._http.request("GET", path, params=params, quirks=quirks)
        return answer.model(Envelope)

    async def pages(
        self, path: str, *, permission: str, hint: str = ""
    ) -> AsyncIterator[list[Any]]:
        """Yield the `result` list of each page of a paginated v4 list (page=1, 2, ...).

        Follows `result_info.total_pages` (or total_count / per_page); a list without
        `result_info` is one page. An API that answers another page than the one asked for,
        or more than `max_pages` pages, is an UnexpectedResponse (never a silent truncation).
        """

        async def fetch(page: int) -> tuple[list[Any], bool]:
            envelope = await self.get(
                path, permission=permission, params={"page": str(page)}, hint=hint
            )
            if not isinstance(envelope.result, list):
                raise UnexpectedResponse(f"GET {path}: result is not a list (page {page})")
            info = envelope.result_info
            if info is not None and info.page is not None and info.page != page:
                raise UnexpectedResponse(f"GET {path}: asked for page {page}, got page {info.page}")
            total = _total_pages(info)
            return envelope.result, total is not None and page < total and bool(envelope.result)

        async for result in numbered_pages(
            fetch, max_pages=self._options.max_pages, where=f"GET {path}"
        ):
            yield result

    async def graphql(
        self,
        operation: str,
        document: str,
        variables: Mapping[str, Any],
        *,
        hints: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """POST one GraphQL query and return its `data`; any `errors` entry is a failure.

        `hints` maps a field, dataset or alias name to the advice shown when the API rejects
        it (the option that switches it off).
        """
        advice = f"{ANALYTICS_PERMISSION} on account {self._options.account_id}"
        body = {"operationName": operation, "query": document, "variables": dict(variables)}
        answer = await self._http.request(
            "POST",
            "/graphql",
            json=body,
            where=f"POST /graphql ({operation})",
            quirks=_GraphQLQuirks(advice, hints or {}, self._now),
        )
        data = answer.model(GraphQLEnvelope).data
        assert data is not None  # the quirks refused an answer without data
        return data
