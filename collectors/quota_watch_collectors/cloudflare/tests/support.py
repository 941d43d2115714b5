"""Shared helpers of the cloudflare collector's tests: options, canned answers, a fake provider."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from quota_watch_collectors.cloudflare.collector import CloudflareCollector
from quota_watch_collectors.cloudflare.options import CloudflareOptions

from quota_watch.sdk import CollectContext, CollectorError, Reading

HERE = Path(__file__).parent
CASES = HERE / "cases"
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
ACCOUNT = "0123456789abcdef0123456789abcdef"
TOKEN = "s3cr3t-cf-token-0123456789"
BASE = "https://api.cloudflare.com/client/v4"
PROJECTS = f"/client/v4/accounts/{ACCOUNT}/pages/projects"

Handler = Callable[[httpx.Request], httpx.Response]


def options(**overrides: Any) -> CloudflareOptions:
    """Options of the fake account and token; `overrides` replace fields."""
    raw: dict[str, Any] = {"account_id": ACCOUNT, "token": TOKEN, **overrides}
    return CloudflareOptions.model_validate(raw)


def ctx(now: datetime = NOW) -> CollectContext:
    """A collect context at `now`."""
    return CollectContext(account="t", now=now, periods={})


def ok_graphql() -> dict[str, Any]:
    """The GraphQL answer of the `ok` case."""
    data: dict[str, Any] = json.loads((CASES / "ok" / "graphql.json").read_text())
    return data


def account(document: dict[str, Any]) -> dict[str, Any]:
    """The first account of a GraphQL answer."""
    accounts: list[dict[str, Any]] = document["data"]["viewer"]["accounts"]
    return accounts[0]


def envelope(result: Any, **info: int) -> dict[str, Any]:
    """A REST answer wrapping `result`, with `result_info` when given."""
    body: dict[str, Any] = {"success": True, "errors": [], "messages": [], "result": result}
    if info:
        body["result_info"] = info
    return body


def deployment(ident: str, created: str, trigger: str = "push", **extra: Any) -> dict[str, Any]:
    """A Pages deployment of the listing."""
    return {"id": ident, "created_on": created, "deployment_trigger": {"type": trigger}, **extra}


class Provider:
    """A MockTransport handler: GraphQL answer plus REST answers by (path, page)."""

    def __init__(
        self,
        graphql: dict[str, Any] | None = None,
        rest: dict[tuple[str, str], dict[str, Any]] | None = None,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.graphql = graphql if graphql is not None else ok_graphql()
        self.rest = rest or {}
        self.status = status
        self.headers = headers or {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method == "POST":
            return httpx.Response(self.status, json=self.graphql, headers=self.headers)
        key = (request.url.path, request.url.params.get("page", ""))
        if key not in self.rest:
            return httpx.Response(404, json={"success": False, "errors": [], "result": None})
        return httpx.Response(self.status, json=self.rest[key], headers=self.headers)


async def collect(
    opts: CloudflareOptions, handler: Handler, context: CollectContext | None = None
) -> list[Reading]:
    """Poll through `handler`; returns the readings."""
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        return await CloudflareCollector(opts, client).collect(context or ctx())


async def collect_error(
    opts: CloudflareOptions, handler: Handler, context: CollectContext | None = None
) -> CollectorError:
    """Poll through `handler`, which must fail; returns the error."""
    with pytest.raises(CollectorError) as caught:
        await collect(opts, handler, context)
    return caught.value


async def probe(opts: CloudflareOptions, handler: Handler) -> None:
    """Probe through `handler`."""
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        await CloudflareCollector(opts, client).probe()


def values(readings: list[Reading]) -> dict[tuple[str, str | None], float]:
    """Reading values by (limit, resource)."""
    return {(r.limit, r.resource): r.value for r in readings}


def assert_no_secret(error: BaseException) -> None:
    """Assert the token appears nowhere in `error` or its causes."""
    current: BaseException | None = error
    while current is not None:
        for text in (str(current), repr(current), repr(current.args)):
            assert TOKEN not in text
        current = current.__cause__ or current.__context__
