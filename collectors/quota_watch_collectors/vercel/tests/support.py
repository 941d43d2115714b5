"""Shared helpers of the vercel collector's tests: options, usage rows, canned answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from quota_watch_collectors.vercel.collector import VercelCollector
from quota_watch_collectors.vercel.options import LIMIT_KEYS, VercelOptions

from quota_watch.sdk import CollectContext, Period, Reading

FOLDER = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
TOKEN = "fake-vercel-token-0123456789"
TEAM = "team_fake0123456789"

Handler = Callable[[httpx.Request], httpx.Response]


def row(service: str, quantity: Any, unit: str | None, **extra: Any) -> dict[str, Any]:
    """A FOCUS usage row of `service`; `extra` replaces fields."""
    base: dict[str, Any] = {
        "BilledCost": 0,
        "BillingCurrency": "USD",
        "ChargeCategory": "Usage",
        "ChargePeriodStart": "2026-11-21T08:00:00.000Z",
        "ChargePeriodEnd": "2026-11-22T08:00:00.000Z",
        "ConsumedQuantity": quantity,
        "ConsumedUnit": unit,
        "EffectiveCost": 0,
        "PricingCategory": "Standard",
        "PricingCurrency": "USD",
        "PricingQuantity": 0,
        "PricingUnit": "MIUs",
        "RegionId": "iad1",
        "RegionName": "Washington, D.C., USA",
        "ServiceCategory": "Networking",
        "ServiceName": service,
        "ServiceProviderName": "Vercel",
        "Tags": {"ProjectId": "prj_blog0001", "ProjectName": "blog"},
    }
    base.update(extra)
    return base


def jsonl(*rows: dict[str, Any]) -> bytes:
    """`rows` as a JSON Lines body."""
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def options(**overrides: Any) -> VercelOptions:
    """Options with the fake token and team; `overrides` replace fields."""
    raw: dict[str, Any] = {"token": TOKEN, "team_id": TEAM, **overrides}
    return VercelOptions.model_validate(raw)


def context(now: datetime = NOW) -> CollectContext:
    """A collect context at `now` with a 30-day period for every limit."""
    return CollectContext(
        account="test",
        now=now,
        periods={key: Period(now - timedelta(days=30), now) for key in LIMIT_KEYS},
    )


def answer(body: bytes = b"", status: int = 200, headers: dict[str, str] | None = None) -> Handler:
    """A handler answering every request with `body`, `status` and `headers`."""

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status,
            headers=headers or {"Content-Type": "application/jsonl"},
            content=body,
        )

    return handle


class Recorder:
    """A MockTransport handler that records requests and answers with `handler`."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)


async def collect(
    handler: Handler, ctx: CollectContext | None = None, **option_overrides: Any
) -> list[Reading]:
    """Poll through `handler`; returns the readings."""
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        collector = VercelCollector(options(**option_overrides), client)
        return await collector.collect(ctx or context())


def by_limit(readings: list[Reading]) -> dict[str, float]:
    """Reading values by limit."""
    return {r.limit: r.value for r in readings}
