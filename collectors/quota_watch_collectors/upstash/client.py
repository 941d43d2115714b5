"""Upstash's Developer API on the SDK's HTTP kit: basic auth, endpoints, error bodies."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import TypeAdapter

from quota_watch.sdk import Answer, ProviderHttp, Quirks, parse_adapter
from quota_watch_collectors.upstash.models import (
    Database,
    DatabaseStats,
    QStashStats,
    QStashUser,
)
from quota_watch_collectors.upstash.options import UpstashOptions

if TYPE_CHECKING:
    import httpx

__all__ = ["MAX_BODY_BYTES", "UpstashApi"]

# A stats answer carries a week of series per metric plus per-command series: tens of KiB.
MAX_BODY_BYTES = 4 * 2**20
_DATABASES = TypeAdapter(list[Database])
_QSTASH_USERS = TypeAdapter(list[QStashUser])


class _UpstashQuirks(Quirks):
    """Errors come as a JSON string ("Unauthorized") or an object with `error`/`message`."""

    def detail(self, answer: Answer) -> str:
        body = answer.json_or_none()
        if isinstance(body, str):
            return body
        if isinstance(body, dict):
            said = body.get("error") or body.get("message")
            return said if isinstance(said, str) else ""
        return ""

    def refused(self, answer: Answer) -> str:
        return (
            "the e-mail or Management API key was rejected: the key must be a Management API "
            "key of the account (or team) that owns the databases; databases created through "
            "the Vercel or Fly.io integrations live in the integration's account"
        )


class UpstashApi:
    """The four GET endpoints the collector reads, under `{api_base}/v2`."""

    def __init__(self, client: httpx.AsyncClient, options: UpstashOptions, now: datetime):
        key = options.token.get_secret_value()
        pair = base64.b64encode(f"{options.email}:{key}".encode()).decode("ascii")
        self.http = ProviderHttp(
            client,
            now=now,
            base_url=f"{options.api_base}/v2",
            headers={"Authorization": f"Basic {pair}", "Accept": "application/json"},
            secrets=[key, pair],
            max_body=MAX_BODY_BYTES,
            quirks=_UpstashQuirks(),
        )

    async def databases(self) -> list[Database]:
        """Every Redis database of the account."""
        answer = await self.http.get("/redis/databases")
        return parse_adapter(_DATABASES, answer.json(), answer.where)

    async def redis_stats(self, database_id: str) -> DatabaseStats:
        """One database's usage statistics."""
        return (await self.http.get(f"/redis/stats/{database_id}")).model(DatabaseStats)

    async def qstash_users(self) -> list[QStashUser]:
        """The account's QStash users (one per region) with their limits."""
        answer = await self.http.get("/qstash/users")
        return parse_adapter(_QSTASH_USERS, answer.json(), answer.where)

    async def qstash_stats(self, user_id: str) -> QStashStats:
        """One QStash user's statistics; `daily_requests` spans the calendar month.

        No `period` is sent: the default answers with the month's daily series, and a
        recorded session saw `period=30d` refused with HTTP 400.
        """
        return (await self.http.get(f"/qstash/stats/{user_id}")).model(QStashStats)
