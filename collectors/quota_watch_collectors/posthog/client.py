"""PostHog's billing endpoint on the SDK's HTTP kit: bearer key, its error body, owner advice."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from quota_watch.sdk import Answer, ProviderHttp, Quirks
from quota_watch_collectors.posthog.models import Billing
from quota_watch_collectors.posthog.options import PostHogOptions

if TYPE_CHECKING:
    import httpx

__all__ = ["MAX_RESPONSE_BYTES", "PostHogApi"]

MAX_RESPONSE_BYTES = 4 * 2**20


class _PostHogQuirks(Quirks):
    """PostHog's {"type", "code", "detail"} error body; 403 means "not an owner" here."""

    def detail(self, answer: Answer) -> str:
        body = answer.json_or_none()
        said = body.get("detail") if isinstance(body, dict) else None
        return f"PostHog says: {said}" if isinstance(said, str) and said else ""

    def refused(self, answer: Answer) -> str:
        if answer.unauthorized:
            return "the personal API key is invalid, expired or revoked"
        return (
            "the billing endpoint needs a personal API key with the billing:read scope whose "
            "user is an owner of the organization (admins only when billing is not "
            "restricted to owners)"
        )


class PostHogApi:
    """GET /api/billing/ under `api_base` with the personal API key."""

    def __init__(
        self, client: httpx.AsyncClient, options: PostHogOptions, *, now: datetime
    ) -> None:
        token = options.token.get_secret_value()
        self._http = ProviderHttp(
            client,
            now=now,
            base_url=options.api_base,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            secrets=[token],
            max_body=MAX_RESPONSE_BYTES,
            quirks=_PostHogQuirks(),
        )

    async def billing(self) -> Billing:
        """The organization's billing: period, products with usage and allocations."""
        return (await self._http.get("/api/billing/")).model(Billing)
