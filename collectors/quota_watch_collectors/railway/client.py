"""Railway's public GraphQL API on the SDK's HTTP kit: the usage query, its error forms."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from quota_watch.sdk import (
    Answer,
    AuthError,
    CollectorError,
    ProviderHttp,
    Quirks,
    RateLimitReporter,
    UnexpectedResponse,
    parse_model,
)
from quota_watch_collectors.railway.models import GraphqlErrors, UsageData
from quota_watch_collectors.railway.options import RailwayOptions

if TYPE_CHECKING:
    import httpx

__all__ = ["MEASUREMENTS", "RailwayApi", "usage_query"]

MAX_RESPONSE_BYTES = 2 * 2**20
MEASUREMENTS = ("CPU_USAGE", "MEMORY_USAGE_GB", "NETWORK_TX_GB", "DISK_USAGE_GB")


def usage_query(argument: str) -> str:
    """The usage query with the workspace passed as `argument` (teamId or workspaceId)."""
    fields = ", ".join(MEASUREMENTS)
    return (
        "query RailwayUsage($w: String!, $s: DateTime!, $e: DateTime!) { "
        f"usage(measurements: [{fields}], {argument}: $w, startDate: $s, endDate: $e) "
        "{ measurement value } "
        f"estimatedUsage(measurements: [{fields}], {argument}: $w) "
        "{ measurement estimatedValue } }"
    )


# Railway's GraphQL says a refused token this way under HTTP 200.
_REFUSED_WORDS = ("not authorized", "unauthorized", "forbidden", "not allowed")


def _errors(answer: Answer) -> list[str]:
    try:
        body = GraphqlErrors.model_validate_json(answer.content)
    except (ValidationError, ValueError):
        return []
    return [error.message for error in body.errors]


class _RailwayQuirks(Quirks):
    """GraphQL errors under HTTP 200; a refusal said in words."""

    def failure(self, answer: Answer) -> CollectorError | None:
        if not answer.ok:
            return None
        messages = _errors(answer)
        if not messages:
            return None
        said = "; ".join(messages)[:300]
        if any(word in m.lower() for m in messages for word in _REFUSED_WORDS):
            return AuthError(
                f"{answer.where}: GraphQL error: {said}: the token may not read this workspace's "
                "usage (an account or workspace token is needed; project tokens cannot)"
            )
        return UnexpectedResponse(f"{answer.where}: GraphQL error: {said}")

    def detail(self, answer: Answer) -> str:
        messages = _errors(answer)
        return "Railway says: " + "; ".join(messages) if messages else ""

    def refused(self, answer: Answer) -> str:
        return "the token is invalid, or is a project token (it cannot read workspace usage)"


class RailwayApi:
    """The usage query as one poll sends it."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        options: RailwayOptions,
        *,
        now: datetime,
        report_rate_limit: RateLimitReporter | None = None,
    ) -> None:
        token = options.token.get_secret_value()
        self._options = options
        self._now = now
        self._http = ProviderHttp(
            client,
            now=now,
            base_url=options.api_base,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            secrets=[token],
            max_body=MAX_RESPONSE_BYTES,
            quirks=_RailwayQuirks(),
            report_rate_limit=report_rate_limit,
        )

    async def usage(self, start: datetime, end: datetime) -> UsageData:
        """`usage` over [start, end) and `estimatedUsage` of the current cycle."""
        query = usage_query(self._options.workspace_argument)
        variables = {
            "w": self._options.workspace_id,
            "s": start.isoformat().replace("+00:00", "Z"),
            "e": end.isoformat().replace("+00:00", "Z"),
        }
        answer = await self._http.request(
            "POST",
            "",
            json={"query": query, "variables": variables},
            where="POST graphql RailwayUsage",
        )
        body: Any = answer.json()
        data = body.get("data") if isinstance(body, dict) else None
        return parse_model(UsageData, data, f"{answer.where}: data")
