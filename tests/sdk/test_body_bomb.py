"""A gzip bomb on loopback: the kit refuses it after the limit, counted after decompression."""

from __future__ import annotations

import resource
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from quota_watch_collectors.http_json.collector import HttpJsonCollector
from quota_watch_collectors.http_json.options import HttpJsonOptions

from quota_watch.sdk import CollectContext, ProviderHttp, UnexpectedResponse
from quota_watch.testing.bomb import GzipBomb

pytestmark = pytest.mark.slow  # a real server on loopback

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
GIB = 2**30


@pytest.fixture(scope="module")
def bomb() -> Iterator[GzipBomb]:
    with GzipBomb(GIB) as served:
        yield served


async def test_a_collector_on_the_kit_refuses_a_gigabyte_bomb(bomb: GzipBomb) -> None:
    options = HttpJsonOptions.model_validate(
        {
            "url": f"{bomb.url}/v1/usage",
            "max_response_size": "1 MiB",
            "limits": {
                "requests": {
                    "title": "Requests",
                    "unit": "count",
                    "measure": "level",
                    "value": "usage.requests",
                }
            },
        }
    )
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    async with httpx.AsyncClient(timeout=60) as client:
        collector = HttpJsonCollector(options, client)
        ctx = CollectContext(account="bomb", now=NOW, periods={})
        with pytest.raises(
            UnexpectedResponse, match=r"max_response_size\): response exceeds 1048576 bytes"
        ):
            await collector.collect(ctx)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    # Not a speed or memory benchmark (bench/bench_body_bomb.py is): a bomb that had been
    # inflated would have raised the peak by a gigabyte, far beyond this margin.
    assert grown_kib < 256 * 1024


async def test_the_kit_counts_inflated_bytes_not_wire_bytes(bomb: GzipBomb) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        http = ProviderHttp(client, now=NOW, base_url=bomb.url, max_body=8 * 2**20)
        with pytest.raises(UnexpectedResponse, match="exceeds 8388608 bytes") as caught:
            await http.get("/anything")
    assert caught.value.__context__ is None
