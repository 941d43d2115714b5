"""A large /metrics body goes out in chunks with its length; gzip and OpenMetrics still right."""

from __future__ import annotations

import gzip

import httpx
import pytest
from starlette.applications import Starlette

from quota_watch.daemon.server import create_app
from quota_watch.prometheus.body import CHUNK_BYTES
from quota_watch.prometheus.exposition import Snapshot, render
from quota_watch.prometheus.negotiate import OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE
from tests.support.asgiserver import serve_asgi
from tests.support.exposition_facts import Facts

PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


@pytest.fixture(scope="module")
def facts() -> Facts:
    facts = Facts(1_500)  # ~1.7 MiB of text: several chunks
    assert len(render(facts.snapshot(live=False))) > 4 * CHUNK_BYTES
    return facts


def _app(facts: Facts) -> Starlette:
    async def take() -> Snapshot:
        return facts.snapshot(live=True)

    return create_app(take, lambda: None)


@pytest.mark.slow
async def test_streamed_text_over_loopback_is_the_rendered_text(facts: Facts) -> None:
    async with serve_asgi(_app(facts)) as url, httpx.AsyncClient(base_url=url) as client:
        text = await client.get("/metrics", headers={"Accept-Encoding": "identity"})
        async with client.stream(
            "GET", "/metrics", headers={"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip"}
        ) as scraped:
            raw = b"".join([chunk async for chunk in scraped.aiter_raw()])
    assert text.status_code == 200
    assert text.headers["content-type"] == TEXT_CONTENT_TYPE
    assert "transfer-encoding" not in text.headers  # the length is sent, not chunked encoding
    assert int(text.headers["content-length"]) == len(text.content)
    assert text.content == render(facts.snapshot(live=False))

    assert scraped.headers["content-type"] == OPENMETRICS_CONTENT_TYPE
    assert scraped.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw) == render(facts.snapshot(live=False), openmetrics=True)


async def test_streamed_body_through_asgi_equals_render(facts: Facts) -> None:
    async def take() -> Snapshot:
        return facts.snapshot(live=True)

    transport = httpx.ASGITransport(app=create_app(take, lambda: None))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        plain = await client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
        facts.poll(facts.accounts[0].account)  # a poll between scrapes changes nothing here
        zipped = await client.get("/metrics", headers={"Accept-Encoding": "gzip"})
    assert plain.headers["content-type"] == OPENMETRICS_CONTENT_TYPE
    assert plain.content == render(facts.snapshot(live=False), openmetrics=True)
    assert plain.content.endswith(b"# EOF\n")
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == render(facts.snapshot(live=False))
