"""Unit tests of the axiom collector: cases, headers sent, the empty ingest probe."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from quota_watch_collectors.axiom.collector import AxiomCollector
from quota_watch_collectors.axiom.options import AxiomOptions

from quota_watch.sdk import CollectContext, Period
from quota_watch.testing import catalogue_limits, iter_cases, run_case

CASES = Path(__file__).parent / "cases"
TOKEN = "xaat-s3cr3t-token-value-0123456789"
NOW = datetime(2026, 8, 21, 14, 0, tzinfo=UTC)
CYCLE = Period(datetime(2026, 8, 1, tzinfo=UTC), datetime(2026, 9, 1, tzinfo=UTC))


@pytest.mark.parametrize("case_dir", iter_cases(CASES), ids=lambda p: p.name)
async def test_case(case_dir: Path) -> None:
    await run_case(AxiomCollector, case_dir)


def _answer(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path == "/v2/orgs/acme-ab1c":
        return httpx.Response(200, json={"id": "acme-ab1c", "license": {"monthlyIngestGb": 500}})
    if path.endswith("/ingest"):
        headers = {"X-IngestLimit-Limit": "500000000000", "X-IngestLimit-Remaining": "4e11"}
        return httpx.Response(200, json={"ingested": 0}, headers=headers)
    return httpx.Response(200, json=[])


async def test_sends_org_header_and_an_empty_batch() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _answer(request)

    raw: dict[str, Any] = {"token": TOKEN, "org_id": "acme-ab1c", "probe_dataset": "qw-probe"}
    options = AxiomOptions.model_validate(raw)
    ctx = CollectContext(account="t", now=NOW, periods={"ingest": CYCLE})
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        collector = AxiomCollector(options, client, catalogue_limits(AxiomCollector))
        readings = await collector.collect(ctx)
    assert [r.url.path for r in seen] == [
        "/v2/orgs/acme-ab1c",
        "/v2/datasets",
        "/v2/monitors",
        "/v1/datasets/qw-probe/ingest",
    ]
    assert all(r.headers["X-AXIOM-ORG-ID"] == "acme-ab1c" for r in seen)
    assert seen[-1].method == "POST" and seen[-1].content == b"[]"
    ingest = next(r for r in readings if r.limit == "ingest")
    assert ingest.value == 1e11 and ingest.cap == 5e11
