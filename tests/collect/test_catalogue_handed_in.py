"""The registry's parsed catalogue is handed to each collector; anchors are a core hook."""

from __future__ import annotations

import ast
import inspect
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel

from quota_watch.collect.registry import discover
from quota_watch.collect.runtime import OFFLINE_CLIENT, build_runtimes, instantiate
from quota_watch.config.load import validate_config
from quota_watch.sdk import CollectContext, LimitSpec, PeriodKind, Reading
from tests.support.imports import COLLECTORS


def config(**options: Any) -> Any:
    account = {
        "name": "team",
        "collector": "netlify",
        "options": {"token": "tok-12345678", "account_slug": "acme", **options},
    }
    return validate_config({"accounts": [account]}, None, env={})


def test_each_collector_gets_the_registry_catalogue() -> None:
    runtimes = build_runtimes(config(), OFFLINE_CLIENT)
    runtime = runtimes["team"]
    catalogue = runtime.info.catalogue.limits
    assert runtime.collector.catalogue == catalogue  # type: ignore[attr-defined]
    assert runtime.limits == catalogue


def test_a_period_anchor_moves_the_billing_cycle() -> None:
    runtime = build_runtimes(config(billing_anchor_day=17), OFFLINE_CLIENT)["team"]
    for name in ("bandwidth", "build_minutes", "credits"):
        period = runtime.limits[name].period
        assert (period.kind, period.anchor_day) == (PeriodKind.BILLING_CYCLE, 17), name
        assert period.tz == runtime.info.catalogue.limits[name].period.tz


class TwoArguments:
    """A collector written before `limits` existed (options and client only)."""

    name: ClassVar[str] = "old"
    Options: ClassVar[type[BaseModel]] = BaseModel

    def __init__(self, options: Any, client: httpx.AsyncClient) -> None:
        self.options = options

    async def probe(self) -> None: ...

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        return []

    def declared_limits(self) -> dict[str, LimitSpec] | None:
        return None


def test_a_two_argument_collector_still_builds() -> None:
    options = object()
    built = instantiate(TwoArguments, options, OFFLINE_CLIENT, {})
    assert isinstance(built, TwoArguments) and built.options is options


def test_every_built_in_collector_takes_its_catalogue() -> None:
    for name, info in discover().items():
        assert "limits" in inspect.signature(info.cls).parameters, name


def test_no_collector_reads_its_limits_toml_itself() -> None:
    readers = []
    for path in COLLECTORS.rglob("*.py"):
        if "tests" in path.relative_to(COLLECTORS).parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            imported = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if "tomllib" in imported:
                readers.append(str(path.relative_to(COLLECTORS)))
    assert readers == []
