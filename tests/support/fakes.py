"""A scriptable fake collector with its catalogue, account configs and runtimes for poll tests."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from quota_watch.collect.catalog import parse_catalogue
from quota_watch.collect.registry import CollectorInfo
from quota_watch.collect.runtime import AccountRuntime, build_runtime
from quota_watch.config.settings import AccountConfig
from quota_watch.sdk import CollectContext, CollectorBase, Reading

CATALOGUE = parse_catalogue(
    """
[provider]
name = "fake"
title = "Fake provider"
source = "https://example.com/limits"
verified = 2026-11-22
[provider.policy]
multi_account = "allowed"
commercial_use = "allowed"
[limits.requests]
title = "Requests"
unit = "count"
measure = "cumulative"
period = "daily"
cap = "100k"
[limits.storage]
title = "Storage"
unit = "bytes"
measure = "level"
scope = "resource"
"""
)


class FakeOptions(BaseModel):
    """The fake collector's options: one secret token."""

    model_config = ConfigDict(extra="forbid")
    token: SecretStr = SecretStr("tok-very-secret")


class FakeCollector(CollectorBase):
    """Does whatever the test queued: a list of readings or an exception per poll."""

    name = "fake"
    Options: ClassVar[type[BaseModel]] = FakeOptions
    script: ClassVar[list[Any]] = []
    active = 0
    peak = 0
    delay = 0.01  # seconds each poll takes

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """Pop the next scripted step: return its readings or raise its exception."""
        cls = type(self)
        cls.active += 1
        cls.peak = max(cls.peak, cls.active)
        try:
            await asyncio.sleep(cls.delay)
            step = cls.script.pop(0) if cls.script else [Reading("requests", 1.0)]
            ctx.state["polls"] = ctx.state.get("polls", 0) + 1
            if isinstance(step, Exception):
                raise step
            assert isinstance(step, list)
            return step
        finally:
            cls.active -= 1


INFO = CollectorInfo(name="fake", cls=FakeCollector, catalogue=CATALOGUE, folder=Path())


def account(name: str = "a1", **overrides: Any) -> AccountConfig:
    """An enabled account of the fake collector, polled every ten minutes; `overrides` win."""
    values: dict[str, Any] = {
        "name": name,
        "collector": "fake",
        "interval": timedelta(minutes=10),
        "group": None,
        "enabled": True,
        "options": FakeOptions(),
        "cap_overrides": {},
    }
    values.update(overrides)
    return AccountConfig(**values)


def runtime(config: AccountConfig | None = None) -> AccountRuntime:
    """The runtime of `config` (default: `account()`) on the fake collector."""
    return build_runtime(config or account(), INFO, httpx.AsyncClient())
