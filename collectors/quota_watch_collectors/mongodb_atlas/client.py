"""The Atlas Admin API v2 on the SDK's HTTP kit: Digest or service-account auth, its errors."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from pydantic import ValidationError

from quota_watch.sdk import (
    Answer,
    AuthError,
    ProviderHttp,
    Quirks,
    RateLimitReporter,
    numbered_pages,
)
from quota_watch_collectors.mongodb_atlas.digest import DigestChallenge, parse_challenge
from quota_watch_collectors.mongodb_atlas.models import (
    AccessToken,
    ApiError,
    Measurements,
    Process,
    ProcessPage,
)
from quota_watch_collectors.mongodb_atlas.options import MongodbAtlasOptions

if TYPE_CHECKING:
    import httpx

__all__ = ["ACCEPT", "MAX_RESPONSE_BYTES", "AtlasApi"]

ACCEPT = "application/vnd.atlas.2023-01-01+json"
MAX_RESPONSE_BYTES = 4 * 2**20
API_PATH = "/api/atlas/v2"
TOKEN_PATH = "/api/oauth/token"


class _AtlasQuirks(Quirks):
    """Atlas's {detail, errorCode} body and what a refusal means for its keys."""

    def detail(self, answer: Answer) -> str:
        try:
            body = ApiError.model_validate_json(answer.content)
        except (ValidationError, ValueError):
            return ""
        said = " ".join(part for part in (body.error_code, body.detail) if part)
        return f"Atlas says: {said}" if said else ""

    def refused(self, answer: Answer) -> str:
        if answer.unauthorized:
            return (
                "the API key or service account was rejected (wrong key, revoked, or this "
                "address is not on the key's API access list)"
            )
        return "the key needs the Project Read Only role on this project"


class AtlasApi:
    """The Atlas Admin API as one poll sees it, authenticated one of the two ways."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        options: MongodbAtlasOptions,
        *,
        now: datetime,
        report_rate_limit: RateLimitReporter | None = None,
    ) -> None:
        self._client = client
        self._options = options
        self._now = now
        self._report = report_rate_limit
        self._challenge: DigestChallenge | None = None
        self._secrets = [
            s.get_secret_value()
            for s in (options.private_key, options.client_secret)
            if s is not None
        ]
        self._http = self._make_http({}, self._secrets)

    def _make_http(self, headers: dict[str, str], secrets: list[str]) -> ProviderHttp:
        return ProviderHttp(
            self._client,
            now=self._now,
            base_url=self._options.api_base,
            headers={"Accept": ACCEPT, **headers},
            secrets=secrets,
            max_body=MAX_RESPONSE_BYTES,
            quirks=_AtlasQuirks(),
            report_rate_limit=self._report,
        )

    async def sign_in(self) -> None:
        """For a service account: trade the client credentials for a bearer token (1 h)."""
        options = self._options
        if options.client_id is None or options.client_secret is None:
            return
        pair = f"{options.client_id}:{options.client_secret.get_secret_value()}"
        basic = base64.b64encode(pair.encode()).decode()
        answer = await self._http.request(
            "POST",
            TOKEN_PATH,
            content=b"grant_type=client_credentials",
            headers={
                "Authorization": f"Basic {basic}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
        )
        token = answer.model(AccessToken).access_token
        self._http = self._make_http(
            {"Authorization": f"Bearer {token}"}, [*self._secrets, basic, token]
        )

    async def _get(self, path: str, query: list[tuple[str, str]]) -> Answer:
        """GET `API_PATH + path`; with an API key, answering the Digest challenge once."""
        import httpx

        target = f"{API_PATH}{path}?{urlencode(query)}" if query else f"{API_PATH}{path}"
        options = self._options
        if options.public_key is None or options.private_key is None:
            return await self._http.request("GET", target)
        for _ in range(2):
            headers: dict[str, str] = {}
            if self._challenge is not None:
                uri = httpx.URL(self._options.api_base + target).raw_path.decode("ascii")
                headers["Authorization"] = self._challenge.authorization(
                    options.public_key, options.private_key.get_secret_value(), "GET", uri
                )
            answer = await self._http.send("GET", target, headers=headers)
            if not answer.unauthorized:
                return self._http.check(answer)
            fresh = parse_challenge(answer.headers.get("www-authenticate", ""))
            retry = fresh is not None and (self._challenge is None or _stale(answer))
            if fresh is None and self._challenge is None:
                raise AuthError(
                    f"{answer.where}: HTTP 401 without a Digest challenge: an API key needs "
                    "Digest auth (check api_base, or use a service account)"
                )
            if not retry:
                return self._http.check(answer)
            self._challenge = fresh
        return self._http.check(answer)

    async def processes(self) -> list[Process]:
        """Every process of the project (numbered pages of `items_per_page`)."""
        group = quote(self._options.group_id, safe="")
        size = self._options.items_per_page
        found: list[Process] = []

        async def fetch(number: int) -> tuple[list[Process], bool]:
            query = [("itemsPerPage", str(size)), ("pageNum", str(number))]
            page = (await self._get(f"/groups/{group}/processes", query)).model(ProcessPage)
            seen = len(found) + len(page.results)
            if page.total_count is not None:
                return page.results, seen < page.total_count and bool(page.results)
            return page.results, len(page.results) >= size

        where = f"GET {API_PATH}/groups/{group}/processes"
        async for results in numbered_pages(fetch, max_pages=self._options.max_pages, where=where):
            found.extend(results)
        return found

    async def measurements(self, process_id: str, metrics: list[str]) -> Measurements:
        """The process's measurements of `metrics` over `period` at `granularity`."""
        group = quote(self._options.group_id, safe="")
        process = quote(process_id, safe=":")
        query = [
            ("granularity", self._options.granularity),
            ("period", self._options.period),
            *(("m", name) for name in metrics),
        ]
        path = f"/groups/{group}/processes/{process}/measurements"
        return (await self._get(path, query)).model(Measurements)


def _stale(answer: Answer) -> bool:
    """Whether a 401 only says the nonce expired (stale=true): answer the new one once."""
    return "stale=true" in answer.headers.get("www-authenticate", "").lower().replace(" ", "")
