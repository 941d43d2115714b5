"""GET /v1/billing/charges streamed line by line on the SDK's HTTP kit: endpoint, auth, quirks."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import ValidationError

from quota_watch.sdk import (
    Answer,
    CollectorError,
    ProviderHttp,
    Quirks,
    RateLimitStatus,
    UnexpectedResponse,
)
from quota_watch.sdk import rate_limit_headers as rate_limit_status
from quota_watch.sdk import wait_from_headers as retry_after_seconds
from quota_watch_collectors.vercel.models import ErrorBody
from quota_watch_collectors.vercel.options import VercelOptions

if TYPE_CHECKING:
    import httpx

__all__ = [
    "CHARGES_PATH",
    "MAX_BODY_BYTES",
    "MAX_LINE_BYTES",
    "LineConsumer",
    "RateLimitReporter",
    "charges_url",
    "error_code",
    "fetch_charges",
    "format_instant",
    "is_auth_code",
    "rate_limit_status",
    "retry_after_seconds",
]

CHARGES_PATH = "/v1/billing/charges"
MAX_LINE_BYTES = 1 << 20  # one FOCUS row is well under 1 KiB; a longer line is not a row
# Streamed a line at a time, so this bounds time, not memory: a month of a team's rows is far less.
MAX_BODY_BYTES = 256 << 20
_ERROR_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_AUTH_CODES = {"forbidden", "not_authorized", "unauthorized", "invalid_token", "team_unauthorized"}

LineConsumer = Callable[[int, bytes], None]
RateLimitReporter = Callable[[RateLimitStatus], None]


def charges_url(options: VercelOptions) -> str:
    """The charges endpoint under the configured API root."""
    return f"{options.api_base}{CHARGES_PATH}"


def format_instant(moment: datetime) -> str:
    """An aware datetime in the API's UTC form with milliseconds: 2026-10-19T07:00:00.000Z."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def error_code(content: bytes) -> str | None:
    """The `error.code` of a Vercel error body when it is a plain identifier (safe to show)."""
    try:
        body = ErrorBody.model_validate_json(content)
    except ValidationError:
        return None
    code = body.error.code
    return code if code is not None and _ERROR_CODE.match(code) else None


def is_auth_code(code: str | None) -> bool:
    """Whether an error code means the credentials or their permissions were refused."""
    return code is not None and code.casefold() in _AUTH_CODES


class _VercelQuirks(Quirks):
    """Error codes in the body, team-scope advice, and an HTML sign-in page under HTTP 200."""

    def failure(self, answer: Answer) -> CollectorError | None:
        if answer.ok and answer.content_type.startswith("text/html"):
            return UnexpectedResponse(f"{answer.where}: HTTP 200 with an HTML body, not JSONL")
        return None

    def detail(self, answer: Answer) -> str:
        code = error_code(answer.content) or ""
        if answer.status == 404:
            return f"{code}; team not found (check team_id) or the endpoint moved".lstrip("; ")
        if answer.status == 400:
            return f"{code}; the API refused the request (from/to or teamId)".lstrip("; ")
        return code

    def refused(self, answer: Answer) -> str:
        return (
            "access refused; the token must be scoped to this team (or Full Account, not a "
            "project) and its user needs a team role that may read billing: Owner, Member, "
            "Developer, Security, Billing or Enterprise Viewer"
        )


async def fetch_charges(
    client: httpx.AsyncClient,
    options: VercelOptions,
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    on_line: LineConsumer,
    on_rate_limit: RateLimitReporter | None = None,
) -> int:
    """Stream the FOCUS charges of [start, end) and hand each body line to `on_line`.

    Returns the number of lines. The rate-limit headers of the answer (any status) go to
    `on_rate_limit`; errors follow the SDK kit, an HTML body is an UnexpectedResponse.
    """
    params = {"from": format_instant(start), "to": format_instant(end)}
    if options.team_id is not None:
        params["teamId"] = options.team_id
    token = options.token.get_secret_value()

    def note(answer: Answer) -> None:
        status = rate_limit_status(answer.headers, now)
        if status is not None and on_rate_limit is not None:
            on_rate_limit(status)

    http = ProviderHttp(
        client,
        now=now,
        headers={"Authorization": f"Bearer {token}", "Accept": "application/jsonl"},
        secrets=[token],
        max_body=MAX_BODY_BYTES,
        quirks=_VercelQuirks(),
        on_answer=note,
    )
    return await http.stream_lines(
        "GET", charges_url(options), on_line, params=params, max_line=MAX_LINE_BYTES
    )
