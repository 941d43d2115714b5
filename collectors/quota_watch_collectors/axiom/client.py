"""Axiom's API on the SDK's HTTP kit: bearer token, org header, its 430 and limit headers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

from pydantic import TypeAdapter

from quota_watch.sdk import Answer, ProviderHttp, Quirks, header_number, parse_adapter
from quota_watch_collectors.axiom.models import IngestLimit, Named, Organization
from quota_watch_collectors.axiom.options import AxiomOptions

if TYPE_CHECKING:
    import httpx

__all__ = ["LIMIT_EXCEEDED", "MAX_RESPONSE_BYTES", "AxiomApi", "ingest_limit"]

MAX_RESPONSE_BYTES = 4 * 2**20
LIMIT_EXCEEDED = 430
"""Axiom's own status: the ingest or query limit of the plan is used up (axiom-go limit.go)."""

RateLimitReporter = Callable[[float, float | None, datetime | None], None]
_LIST = TypeAdapter(list[Named])


def ingest_limit(headers: httpx.Headers) -> IngestLimit | None:
    """The X-IngestLimit-* headers, when limit and remaining are both present and numbers."""
    limit = header_number(headers, "x-ingestlimit-limit")
    remaining = header_number(headers, "x-ingestlimit-remaining")
    if limit is None or remaining is None:
        return None
    return IngestLimit(
        limit=limit, remaining=remaining, reset=header_number(headers, "x-ingestlimit-reset")
    )


class _AxiomQuirks(Quirks):
    """Axiom's {"message": ...} error body and its advice on refused tokens."""

    def detail(self, answer: Answer) -> str:
        body = answer.json_or_none()
        said = body.get("message") if isinstance(body, dict) else None
        return f"Axiom says: {said}" if isinstance(said, str) and said else ""

    def refused(self, answer: Answer) -> str:
        if answer.unauthorized:
            return "the token is invalid, expired or revoked"
        return (
            "the token lacks a permission: it needs read access to the organization, its "
            "datasets and monitors, and ingest into probe_dataset when that is set"
        )


class AxiomApi:
    """The org, list and ingest endpoints under `api_base`; every answer's headers noted."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        options: AxiomOptions,
        *,
        now: datetime,
        report_rate_limit: RateLimitReporter | None = None,
    ) -> None:
        token = options.token.get_secret_value()
        self._report = report_rate_limit
        self.seen_ingest_limit: IngestLimit | None = None
        self._http = ProviderHttp(
            client,
            now=now,
            base_url=options.api_base,
            headers={
                "Authorization": f"Bearer {token}",
                "X-AXIOM-ORG-ID": options.org_id,
                "Accept": "application/json",
            },
            secrets=[token],
            max_body=MAX_RESPONSE_BYTES,
            quirks=_AxiomQuirks(),
            on_answer=self._note,
        )

    async def organization(self, org_id: str) -> Organization:
        """GET /v2/orgs/{id}: the plan and its license."""
        return (await self._http.get(f"/v2/orgs/{quote(org_id, safe='')}")).model(Organization)

    async def count(self, path: str) -> int:
        """GET `path` (a JSON array) and count its elements."""
        answer = await self._http.get(path)
        return len(parse_adapter(_LIST, answer.json(), answer.where))

    async def probe_ingest(self, dataset: str) -> IngestLimit | None:
        """POST an empty batch to `dataset`; the X-IngestLimit-* headers of its answer.

        A 430 (the ingest limit is used up) still carries the headers and is not an error.
        """
        path = f"/v1/datasets/{quote(dataset, safe='')}/ingest"
        answer = await self._http.send(
            "POST", path, content=b"[]", headers={"Content-Type": "application/json"}
        )
        if answer.status != LIMIT_EXCEEDED:
            self._http.check(answer)
        return ingest_limit(answer.headers)

    def _note(self, answer: Answer) -> None:
        seen = ingest_limit(answer.headers)
        if seen is not None:
            self.seen_ingest_limit = seen
        remaining = header_number(answer.headers, "x-ratelimit-remaining")
        if remaining is None or self._report is None:
            return
        reset = header_number(answer.headers, "x-ratelimit-reset")
        try:
            resets_at = None if reset is None else datetime.fromtimestamp(reset, UTC)
        except (OverflowError, OSError, ValueError):
            resets_at = None
        self._report(remaining, header_number(answer.headers, "x-ratelimit-limit"), resets_at)
