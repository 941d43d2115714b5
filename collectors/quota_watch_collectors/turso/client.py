"""Turso's Platform API on the SDK's HTTP kit: bearer token, org endpoints, error bodies."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from quota_watch.sdk import Answer, CollectorError, ProviderHttp, Quirks, UnexpectedResponse
from quota_watch_collectors.turso.models import Plans, Subscription, UsageResponse
from quota_watch_collectors.turso.options import TursoOptions

if TYPE_CHECKING:
    import httpx

__all__ = ["MAX_BODY_BYTES", "TursoApi"]

# The usage answer lists every database and instance: 500 databases are a few hundred KiB.
MAX_BODY_BYTES = 8 * 2**20


class _TursoQuirks(Quirks):
    """`{"error": "..."}` bodies; a 404 under the organization means a wrong slug."""

    def failure(self, answer: Answer) -> CollectorError | None:
        if answer.status == 404:
            said = self.detail(answer)
            shown = f" ({said[:200]})" if said else ""
            return UnexpectedResponse(
                f"{answer.where}: HTTP 404{shown}: organization not found; check `organization` "
                "(a token restricted to another organization does not see it)"
            )
        return None

    def detail(self, answer: Answer) -> str:
        body = answer.json_or_none()
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            return str(body["error"])
        return ""

    def refused(self, answer: Answer) -> str:
        return (
            "the token was refused: use a Platform API token (`turso auth api-tokens mint`), "
            "not a database auth token, allowed for this organization"
        )


class TursoApi:
    """The organization's usage, plans and subscription."""

    def __init__(self, client: httpx.AsyncClient, options: TursoOptions, now: datetime):
        token = options.token.get_secret_value()
        self.http = ProviderHttp(
            client,
            now=now,
            base_url=f"{options.api_base}/v1/organizations/{options.organization}",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            secrets=[token],
            max_body=MAX_BODY_BYTES,
            quirks=_TursoQuirks(),
        )

    async def usage(self) -> UsageResponse:
        """This calendar month's usage of the organization."""
        return (await self.http.get("/usage")).model(UsageResponse)

    async def plans(self) -> Plans:
        """Every plan with its quotas."""
        return (await self.http.get("/plans")).model(Plans)

    async def subscription(self) -> Subscription:
        """The organization's current plan."""
        return (await self.http.get("/subscription")).model(Subscription)
