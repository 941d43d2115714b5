"""Unit tests of the flyio collector: cases, allowances, the token scheme, options."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import httpx
import pytest
from pydantic import ValidationError
from quota_watch_collectors.flyio.collector import FlyioCollector
from quota_watch_collectors.flyio.options import FlyioOptions

from quota_watch.sdk import CollectContext, Period
from quota_watch.testing import catalogue_limits, iter_cases, run_case

CASES = Path(__file__).parent / "cases"
TOKEN = "fo1_fakeflytoken0123456789abcdef"


@pytest.mark.parametrize("case_dir", iter_cases(CASES), ids=lambda p: p.name)
async def test_case(case_dir: Path) -> None:
    await run_case(FlyioCollector, case_dir)


def _collector(client: httpx.AsyncClient | None = None, **overrides: object) -> FlyioCollector:
    options = FlyioOptions.model_validate({"token": TOKEN, **overrides})
    no_client = cast(httpx.AsyncClient, client)
    return FlyioCollector(options, no_client, catalogue_limits(FlyioCollector))


def test_trial_uses_the_catalogue() -> None:
    collector = _collector()
    assert collector.declared_limits() is None
    assert collector.catalogue["machines"].cap == 10
    assert collector.catalogue["volume_size"].cap == 20e9


def test_legacy_hobby_caps() -> None:
    limits = _collector(allowance="legacy_hobby").declared_limits()
    assert limits is not None
    assert {n: s.cap for n, s in limits.items()} == {
        "machines": None,
        "machines_started": 3,
        "volume_size": 3e9,
    }


def test_none_drops_every_cap() -> None:
    limits = _collector(allowance="none").declared_limits()
    assert limits is not None
    assert all(spec.cap is None for spec in limits.values())


@pytest.mark.parametrize(
    ("token", "header"),
    [
        (TOKEN, f"Bearer {TOKEN}"),
        ("FlyV1 fm2_fakemacaroon0123456789", "FlyV1 fm2_fakemacaroon0123456789"),
    ],
)
async def test_token_scheme(token: str, header: str) -> None:
    seen: list[str] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(200, json=[])

    async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as client:
        options = FlyioOptions.model_validate({"token": token, "apps": ["a"]})
        collector = FlyioCollector(options, client, catalogue_limits(FlyioCollector))
        always = Period(None, None)
        ctx = CollectContext(
            account="t",
            now=datetime(2026, 8, 21, tzinfo=UTC),
            periods={k: always for k in ("machines", "machines_started", "volume_size")},
        )
        await collector.collect(ctx)
    assert seen == [header, header]


@pytest.mark.parametrize(
    "overrides", [{"org_slug": "Acme"}, {"apps": ["a/b"]}, {"allowance": "free"}, {"x": 1}]
)
def test_options_reject(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        FlyioOptions.model_validate({"token": TOKEN, **overrides})
