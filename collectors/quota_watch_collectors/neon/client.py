"""Neon's API v2 on the SDK's HTTP kit: endpoints, bearer auth, its error body."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

from pydantic import ValidationError

from quota_watch.sdk import (
    Answer,
    ProviderHttp,
    Quirks,
    RateLimitReporter,
    cursor_pages,
)
from quota_watch_collectors.neon.models import (
    BranchList,
    ErrorBody,
    Project,
    ProjectEnvelope,
    ProjectList,
)
from quota_watch_collectors.neon.options import NeonOptions

if TYPE_CHECKING:
    import httpx

__all__ = ["MAX_RESPONSE_BYTES", "NeonApi"]

MAX_RESPONSE_BYTES = 4 * 2**20


class _NeonQuirks(Quirks):
    """Neon's {code, message} error body and what a refusal means for its keys."""

    def detail(self, answer: Answer) -> str:
        try:
            body = ErrorBody.model_validate_json(answer.content)
        except (ValidationError, ValueError):
            return ""
        return f"Neon says: {body.message}" if body.message else ""

    def refused(self, answer: Answer) -> str:
        if answer.unauthorized:
            return "the API key is invalid or revoked"
        return (
            "the API key may not read this project (a project-scoped key reads only its own "
            "project: list it in project_ids; an organization's projects need org_id and a key "
            "of that organization)"
        )


class NeonApi:
    """The Neon API as one poll sees it: GETs under `api_base` with the bearer key."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        options: NeonOptions,
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
            quirks=_NeonQuirks(),
            report_rate_limit=report_rate_limit,
        )

    async def project_ids(self) -> list[str]:
        """The ids of every project GET /projects lists (cursor pages until a short page)."""
        ids: list[str] = []
        size = self._options.page_size

        async def fetch(cursor: str | None) -> tuple[list[str], str | None]:
            params = {"limit": str(size)}
            if self._options.org_id is not None:
                params["org_id"] = self._options.org_id
            if cursor:
                params["cursor"] = cursor
            page = (await self._http.get("/projects", params=params)).model(ProjectList)
            found = [item.id for item in page.projects]
            # Neon returns a cursor (the last id) on every page, the last one too: a page
            # shorter than the limit is the end.
            more = len(found) >= size and page.pagination is not None
            return found, (page.pagination.cursor if more and page.pagination else None)

        pages = cursor_pages(fetch, max_pages=self._options.max_pages, where="GET /projects")
        async for found in pages:
            ids.extend(found)
        return ids

    async def project(self, project_id: str) -> Project:
        """GET /projects/{id}: the project and its consumption counters."""
        path = f"/projects/{quote(project_id, safe='')}"
        return (await self._http.get(path)).model(ProjectEnvelope).project

    async def branches(self, project_id: str) -> BranchList:
        """GET /projects/{id}/branches: every branch with its logical size."""
        path = f"/projects/{quote(project_id, safe='')}/branches"
        return (await self._http.get(path)).model(BranchList)
