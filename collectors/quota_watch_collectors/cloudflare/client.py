"""HTTP calls to Cloudflare's v4 REST API and GraphQL Analytics API, mapped to the SDK's errors.

REST answers carry the `{success, errors, messages, result, result_info}` envelope; GraphQL
answers carry `{data, errors}`. Both can report a failure under HTTP 200, and both are checked.
Messages name the method and path (never the query string), the Cloudflare error codes and a
trimmed provider message with the token scrubbed out; never a header value.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NoReturn

import httpx
from pydantic import ValidationError

from quota_watch.sdk import (
    AuthError,
    CollectorError,
    ProviderUnavailable,
    RateLimited,
    RateLimitStatus,
    UnexpectedResponse,
    http_date,
    read_body,
    retry_after_seconds,
)
from quota_watch_collectors.cloudflare.models import (
    CfMessage,
    Envelope,
    GraphQLEnvelope,
    GraphQLError,
    ResultInfo,
)
from quota_watch_collectors.cloudflare.options import CloudflareOptions

__all__ = [
    "ANALYTICS_PERMISSION",
    "AUTH_ERROR_CODES",
    "CloudflareApi",
    "describe_validation_error",
    "parse_rate_limit",
    "retry_after_seconds",
]

log = logging.getLogger(__name__)

ANALYTICS_PERMISSION = "Account > Account Analytics > Read"
# v4 error codes that mean the credentials were rejected: 1000 invalid API token, 6003 invalid
# request headers (with 6100-6111 in its error_chain: malformed Authorization / X-Auth-*),
# 9103/9106/9109 unknown or missing credentials / unauthorized, 10000 authentication error.
AUTH_ERROR_CODES = frozenset({1000, 6003, 6100, 6101, 6102, 6103, 6111, 9103, 9106, 9109, 10000})
_MAX_BODY = 32 * 2**20
_MAX_TEXT = 300
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


# --- helpers ----------------------------------------------------------------------------------


def _items(header: str) -> list[tuple[str, dict[str, str]]]:
    """Items of an IETF structured-field list like `"default";r=50;t=30, "burst";r=3;t=1`."""
    found: list[tuple[str, dict[str, str]]] = []
    for item in header.split(","):
        parts = [p.strip() for p in item.split(";") if p.strip()]
        if not parts:
            continue
        name = parts[0].strip('"')
        params: dict[str, str] = {}
        for part in parts[1:]:
            key, _, value = part.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        found.append((name, params))
    return found


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def parse_rate_limit(headers: httpx.Headers, now: datetime) -> RateLimitStatus | None:
    """The request budget a response reports, or None when it reports none.

    Cloudflare sends `Ratelimit: "default";r=<remaining>;t=<seconds to reset>` and
    `Ratelimit-Policy: "default";q=<quota>;w=<window>` (IETF draft form; the item with the
    least remaining wins, its quota taken from the policy of the same name); older answers
    carry `X-RateLimit-Remaining`, `X-RateLimit-Limit` and `X-RateLimit-Reset` (an RFC 1123
    date or seconds).
    """
    return _draft_rate_limit(headers, now) or _legacy_rate_limit(headers, now)


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


def _legacy_rate_limit(headers: httpx.Headers, now: datetime) -> RateLimitStatus | None:
    remaining = _number(headers.get("x-ratelimit-remaining"))
    if remaining is None:
        return None
    reset_text = headers.get("x-ratelimit-reset")
    resets_at: datetime | None = None
    if reset_text:
        seconds = _number(reset_text)
        resets_at = now + timedelta(seconds=seconds) if seconds is not None else None
        resets_at = resets_at or http_date(reset_text)
    return RateLimitStatus(remaining, _number(headers.get("x-ratelimit-limit")), resets_at)


def describe_validation_error(exc: ValidationError, prefix: str) -> str:
    """`prefix.loc: message` for the first few errors, without the offending input values."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False)[:3]:
        where = prefix
        for part in error["loc"]:
            where += f"[{part}]" if isinstance(part, int) else f".{part}"
        lines.append(f"{where}: {error['msg']}")
    more = exc.error_count() - len(lines)
    return "; ".join(lines) + (f" (and {more} more)" if more > 0 else "")


def _codes(errors: Sequence[CfMessage]) -> set[int]:
    codes: set[int] = set()
    for error in errors:
        if error.code is not None:
            codes.add(error.code)
        codes |= _codes(error.error_chain or [])
    return codes


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
        self._http = http
        self._options = options
        self._now = now
        self._on_rate_limit = on_rate_limit
        self._lowest: RateLimitStatus | None = None

    # -- plumbing ------------------------------------------------------------------------------

    def _clean(self, text: str) -> str:
        """Provider text fit for a message: one line, trimmed, with the token scrubbed out."""
        secret = self._options.token.get_secret_value()
        if len(secret) >= 4:
            text = text.replace(secret, "***")
        text = " ".join(text.split())
        return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."

    def _track(self, response: httpx.Response) -> None:
        status = parse_rate_limit(response.headers, self._now)
        if status is None:
            return
        if self._lowest is None or status.remaining <= self._lowest.remaining:
            self._lowest = status
            if self._on_rate_limit is not None:
                self._on_rate_limit(status)

    async def _send(
        self,
        method: str,
        path: str,
        where: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> tuple[httpx.Response, bytes]:
        headers = {
            "Authorization": f"Bearer {self._options.token.get_secret_value()}",
            "Accept": "application/json",
        }
        failure: CollectorError | None = None
        try:
            async with self._http.stream(
                method,
                self._options.api_base + path,
                params=params,
                headers=headers,
                json=body,
            ) as response:
                log.debug("%s -> HTTP %d", where, response.status_code)
                content = await read_body(response, _MAX_BODY, where)
        except httpx.TimeoutException as exc:
            failure = ProviderUnavailable(f"{where}: timed out ({type(exc).__name__})")
        except httpx.TransportError as exc:
            failure = ProviderUnavailable(
                f"{where}: request failed: {self._clean(str(exc)) or type(exc).__name__}"
            )
        except httpx.HTTPError as exc:
            failure = UnexpectedResponse(f"{where}: {type(exc).__name__}")
        if failure is not None:
            # Raised outside the except clause: httpx exceptions hold the request and its headers.
            raise failure
        self._track(response)
        return response, content

    @staticmethod
    def _json(content: bytes) -> Any:
        try:
            return json.loads(content)
        except (ValueError, UnicodeDecodeError):
            return None

    def _rate_limited(self, response: httpx.Response, where: str, detail: str = "") -> NoReturn:
        retry_after = retry_after_seconds(
            response.headers.get("retry-after"), now=self._now, date=response.headers.get("date")
        )
        if retry_after is None and detail:
            match = _WAIT_IN_TEXT.search(detail)
            if match is not None:
                retry_after = float(match.group(1)) * _WAIT_UNITS[match.group(2).lower()]
        shown = "" if retry_after is None else f"; retry after {retry_after:g}s"
        text = f": {detail}" if detail else ""
        raise RateLimited(
            f"{where}: HTTP {response.status_code}, rate limited{text}{shown}",
            retry_after=retry_after,
        )

    # -- REST ----------------------------------------------------------------------------------

    def _rest_errors(self, envelope: Envelope | None) -> str:
        if envelope is None or not envelope.errors:
            return ""
        shown = []
        for error in envelope.errors[:3]:
            chain = ", ".join(
                f"{c.message} [{c.code}]" for c in (error.error_chain or [])[:3] if c.message
            )
            text = f"{error.message} [code {error.code}]" if error.code else error.message
            shown.append(text + (f" ({chain})" if chain else ""))
        return self._clean("; ".join(shown))

    async def get(
        self, path: str, *, permission: str, params: Mapping[str, str] | None = None, hint: str = ""
    ) -> Envelope:
        """GET a v4 REST path and return its envelope (success checked).

        `permission` names the token permission the call needs and `hint` how to avoid the
        call; both appear in the AuthError raised on 401/403 or an auth error code.
        """
        where = f"GET {path}"
        response, content = await self._send("GET", path, where, params=params)
        document = self._json(content)
        envelope: Envelope | None = None
        if isinstance(document, dict):
            try:
                envelope = Envelope.model_validate(document)
            except ValidationError as exc:
                if 200 <= response.status_code <= 299:
                    raise UnexpectedResponse(
                        f"{where}: {describe_validation_error(exc, 'body')}"
                    ) from None
        status = response.status_code
        detail = self._rest_errors(envelope)
        codes = _codes(envelope.errors) if envelope is not None else set()
        suffix = f" ({detail})" if detail else ""
        if status in (401, 403) or (status == 400 and codes & AUTH_ERROR_CODES):
            advice = f"; the token needs {permission}" + (f", or {hint}" if hint else "")
            raise AuthError(f"{where}: HTTP {status}: credentials rejected{suffix}{advice}")
        if status == 429:
            self._rate_limited(response, where, detail)
        if status >= 500 or status == 408:
            raise ProviderUnavailable(f"{where}: HTTP {status}{suffix}")
        if not 200 <= status <= 299:
            raise UnexpectedResponse(f"{where}: HTTP {status}{suffix}")
        if envelope is None:
            kind = response.headers.get("content-type", "no content type")
            raise UnexpectedResponse(
                f"{where}: the body is not a JSON object ({len(content)} bytes, {kind})"
            )
        if not envelope.success:
            if codes & AUTH_ERROR_CODES:
                advice = f"; the token needs {permission}" + (f", or {hint}" if hint else "")
                raise AuthError(f"{where}: credentials rejected{suffix}{advice}")
            raise UnexpectedResponse(
                f"{where}: HTTP {status} with success=false{suffix or ' and no error detail'}"
            )
        return envelope

    async def pages(
        self, path: str, *, permission: str, hint: str = ""
    ) -> AsyncIterator[list[Any]]:
        """Yield the `result` list of each page of a paginated v4 list (page=1, 2, ...).

        Follows `result_info.total_pages` (or total_count / per_page); a list without
        `result_info` is one page. The caller may stop early by leaving the loop. An API that
        answers another page than the one asked for, or more than `max_pages` pages, is an
        UnexpectedResponse (never a silent truncation).
        """
        page = 1
        while True:
            if page > self._options.max_pages:
                raise UnexpectedResponse(
                    f"GET {path}: more than {self._options.max_pages} pages (max_pages)"
                )
            envelope = await self.get(
                path, permission=permission, params={"page": str(page)}, hint=hint
            )
            if not isinstance(envelope.result, list):
                raise UnexpectedResponse(f"GET {path}: result is not a list (page {page})")
            info = envelope.result_info
            if info is not None and info.page is not None and info.page != page:
                raise UnexpectedResponse(f"GET {path}: asked for page {page}, got page {info.page}")
            yield envelope.result
            total = _total_pages(info)
            if total is None or page >= total or not envelope.result:
                return
            page += 1

    # -- GraphQL -------------------------------------------------------------------------------

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
        path = "/graphql"
        where = f"POST {path} ({operation})"
        body = {"operationName": operation, "query": document, "variables": dict(variables)}
        response, content = await self._send("POST", path, where, body=body)
        status = response.status_code
        document_json = self._json(content)
        envelope: GraphQLEnvelope | None = None
        if isinstance(document_json, dict):
            try:
                envelope = GraphQLEnvelope.model_validate(document_json)
            except ValidationError as exc:
                if 200 <= status <= 299:
                    raise UnexpectedResponse(
                        f"{where}: {describe_validation_error(exc, 'body')}"
                    ) from None
        errors = list(envelope.errors or []) if envelope is not None else []
        if errors:
            self._graphql_failure(response, where, errors, hints or {})
        if status in (401, 403):
            raise AuthError(
                f"{where}: HTTP {status}: credentials rejected; the token needs "
                f"{ANALYTICS_PERMISSION} on account {self._options.account_id}"
            )
        if status == 429:
            self._rate_limited(response, where)
        if status >= 500 or status == 408:
            raise ProviderUnavailable(f"{where}: HTTP {status}")
        if not 200 <= status <= 299:
            raise UnexpectedResponse(f"{where}: HTTP {status}")
        if envelope is None:
            kind = response.headers.get("content-type", "no content type")
            raise UnexpectedResponse(
                f"{where}: the body is not a JSON object ({len(content)} bytes, {kind})"
            )
        if envelope.data is None:
            raise UnexpectedResponse(f"{where}: no data and no errors in the response")
        return envelope.data

    def _graphql_failure(
        self,
        response: httpx.Response,
        where: str,
        errors: Sequence[GraphQLError],
        hints: Mapping[str, str],
    ) -> NoReturn:
        status = response.status_code
        messages = [self._clean(e.message) or "(no message)" for e in errors]
        paths = {str(part) for e in errors for part in (e.path or [])}
        detail = "; ".join(messages[:3]) + (
            f" (and {len(messages) - 3} more)" if len(messages) > 3 else ""
        )
        text = " ".join(messages)
        advice = _advice(text, paths, hints)
        shown = f"HTTP {status}, GraphQL error: {detail}" + (f" ({advice})" if advice else "")
        if status == 429 or _GRAPHQL_RATE.search(text):
            self._rate_limited(response, where, detail)
        if status in (401, 403) or _GRAPHQL_AUTH.search(text):
            raise AuthError(
                f"{where}: {shown}; the token needs {ANALYTICS_PERMISSION} on account "
                f"{self._options.account_id}"
            )
        if status >= 500 or _GRAPHQL_BUSY.search(text):
            raise ProviderUnavailable(f"{where}: {shown}")
        raise UnexpectedResponse(f"{where}: {shown}")


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
