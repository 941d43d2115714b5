"""UptimeRobot's v2 API on the SDK's HTTP kit: form-encoded POSTs carrying the key, and its
`stat: fail` error bodies under HTTP 200."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import ValidationError

from quota_watch.sdk import (
    Answer,
    AuthError,
    CollectorError,
    ProviderHttp,
    Quirks,
    UnexpectedResponse,
    header_number,
)
from quota_watch_collectors.uptimerobot.models import AccountDetails, ErrorBody
from quota_watch_collectors.uptimerobot.options import UptimeRobotOptions

if TYPE_CHECKING:
    import httpx

__all__ = ["MAX_RESPONSE_BYTES", "UptimeRobotApi"]

MAX_RESPONSE_BYTES = 256 * 2**10

RateLimitReporter = Callable[[float, float | None, datetime | None], None]


def _error_body(answer: Answer) -> ErrorBody | None:
    try:
        body = ErrorBody.model_validate_json(answer.content)
    except (ValidationError, ValueError):
        return None
    return body if body.stat == "fail" else None


class _UptimeRobotQuirks(Quirks):
    """`{"stat": "fail", "error": {...}}` under HTTP 200: a refused key is an AuthError."""

    def failure(self, answer: Answer) -> CollectorError | None:
        body = _error_body(answer) if answer.ok else None
        if body is None:
            return None
        error = body.error
        kind = error.type if error is not None else ""
        said = self.detail(answer)
        shown = f" ({said})" if said else ""
        if error is not None and (
            error.parameter_name == "api_key" or "api_key" in error.message.lower()
        ):
            return AuthError(
                f"{answer.where}: the API key was refused{shown}: check api_key (the read-only "
                "key from Integrations > API is enough)"
            )
        return UnexpectedResponse(f"{answer.where}: stat 'fail', error type {kind!r}{shown}")

    def detail(self, answer: Answer) -> str:
        body = _error_body(answer)
        if body is None or body.error is None:
            return ""
        said = body.error.message or body.error.type
        return f"UptimeRobot says: {said}" if said else ""

    def refused(self, answer: Answer) -> str:
        return "the API key was refused: check api_key"


class UptimeRobotApi:
    """POST methods of the v2 API under `api_base`, the key in the form body."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        options: UptimeRobotOptions,
        *,
        now: datetime,
        report_rate_limit: RateLimitReporter | None = None,
    ) -> None:
        self._key = options.api_key.get_secret_value()
        self._report = report_rate_limit
        self._http = ProviderHttp(
            client,
            now=now,
            base_url=options.api_base,
            headers={"Accept": "application/json", "Cache-Control": "no-cache"},
            secrets=[self._key],
            max_body=MAX_RESPONSE_BYTES,
            quirks=_UptimeRobotQuirks(),
            on_answer=self._note_rate_limit,
        )

    async def account_details(self) -> AccountDetails:
        """POST /getAccountDetails: the account's limits and monitor counts."""
        import httpx

        body = httpx.QueryParams({"api_key": self._key, "format": "json"})
        answer = await self._http.request(
            "POST",
            "/getAccountDetails",
            content=str(body).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        return answer.model(AccountDetails)

    def _note_rate_limit(self, answer: Answer) -> None:
        remaining = header_number(answer.headers, "x-ratelimit-remaining")
        if remaining is None or self._report is None:
            return
        reset = header_number(answer.headers, "x-ratelimit-reset")
        try:
            resets_at = None if reset is None else datetime.fromtimestamp(reset, UTC)
        except (OverflowError, OSError, ValueError):
            resets_at = None
        self._report(remaining, header_number(answer.headers, "x-ratelimit-limit"), resets_at)
