"""The Fly.io Machines API on the SDK's HTTP kit: apps, machines and volumes."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

from pydantic import TypeAdapter, ValidationError

from quota_watch.sdk import (
    Answer,
    ProviderHttp,
    Quirks,
    RateLimitReporter,
    UnexpectedResponse,
    parse_adapter,
)
from quota_watch_collectors.flyio.models import AppList, ErrorBody, Machine, Volume
from quota_watch_collectors.flyio.options import FlyioOptions

if TYPE_CHECKING:
    import httpx

__all__ = ["FlyApi"]

MAX_RESPONSE_BYTES = 8 * 2**20
_MACHINES = TypeAdapter(list[Machine])
_VOLUMES = TypeAdapter(list[Volume])


class _FlyQuirks(Quirks):
    """The {"error": "..."} body and what a refusal means for Fly tokens."""

    def detail(self, answer: Answer) -> str:
        try:
            body = ErrorBody.model_validate_json(answer.content)
        except (ValidationError, ValueError):
            return ""
        return f"Fly.io says: {body.error}" if body.error else ""

    def refused(self, answer: Answer) -> str:
        if answer.unauthorized:
            return "the token is invalid or expired (create one with `fly tokens create readonly`)"
        return "the token may not read this organization's apps (an org-scoped read-only token)"


class FlyApi:
    """The Machines API as one poll sees it: GETs under `api_base` with the bearer token."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        options: FlyioOptions,
        *,
        now: datetime,
        report_rate_limit: RateLimitReporter | None = None,
    ) -> None:
        token = options.token.get_secret_value()
        self._options = options
        self._now = now
        # Fly tokens are sent as "Bearer <token>"; macaroon tokens start with "FlyV1 " already.
        scheme = "" if token.startswith("FlyV1 ") else "Bearer "
        self._http = ProviderHttp(
            client,
            now=now,
            base_url=options.api_base,
            headers={"Authorization": f"{scheme}{token}", "Accept": "application/json"},
            secrets=[token],
            max_body=MAX_RESPONSE_BYTES,
            quirks=_FlyQuirks(),
            report_rate_limit=report_rate_limit,
        )

    async def app_names(self) -> list[str]:
        """The organization's apps; a listing shorter than its total_apps is an error."""
        answer = await self._http.get("/v1/apps", params={"org_slug": self._options.org_slug})
        listing = answer.model(AppList)
        if len(listing.apps) != listing.total_apps:
            raise UnexpectedResponse(
                f"{answer.where}: lists {len(listing.apps)} apps of total_apps "
                f"{listing.total_apps} (paged or cut): counts would be wrong; list the apps to "
                "count in `apps`"
            )
        return [app.name for app in listing.apps]

    async def machines(self, app: str) -> list[Machine]:
        """GET /v1/apps/{app}/machines."""
        answer = await self._http.get(f"/v1/apps/{quote(app, safe='')}/machines")
        return parse_adapter(_MACHINES, answer.json(), answer.where)

    async def volumes(self, app: str) -> list[Volume]:
        """GET /v1/apps/{app}/volumes."""
        answer = await self._http.get(f"/v1/apps/{quote(app, safe='')}/volumes")
        return parse_adapter(_VOLUMES, answer.json(), answer.where)
