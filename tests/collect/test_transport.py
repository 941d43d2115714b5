"""The shared client's sharded transport: requests spread over small pools, counts released."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import httpx
import pytest

from quota_watch.collect.runtime import http_client
from quota_watch.collect.transport import ShardedTransport
from quota_watch.config.load import validate_config
from tests.support.asgiserver import serve_asgi
from tests.support.daemon_proc import free_port


class SlowApp:
    """Answers each request with its path after 100 ms, counting requests in flight."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.peak = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(0.1)
            body = scope["path"].encode()
            headers = [(b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        finally:
            self.in_flight -= 1


@pytest.mark.slow
async def test_requests_beyond_one_pool_go_to_the_others() -> None:
    app = SlowApp()
    transport = ShardedTransport(shards=3, connections=2)
    async with (
        serve_asgi(app) as url,
        httpx.AsyncClient(transport=transport, base_url=url) as client,
    ):
        responses = await asyncio.gather(*(client.get(f"/r{i}") for i in range(9)))
        assert [r.text for r in responses] == [f"/r{i}" for i in range(9)]
        assert transport.busy == [0, 0, 0]
        # One pool of 2 connections would have served two at a time.
        assert app.peak == 6
        one = await client.get("/alone")
        assert one.text == "/alone" and transport.busy == [0, 0, 0]


@pytest.mark.slow
async def test_counts_are_released_by_early_close_and_by_errors() -> None:
    app = SlowApp()
    transport = ShardedTransport(shards=2, connections=1)
    async with (
        serve_asgi(app) as url,
        httpx.AsyncClient(transport=transport, base_url=url) as client,
    ):
        async with client.stream("GET", "/unread") as response:
            assert response.status_code == 200
            assert transport.busy == [1, 0]
        assert transport.busy == [0, 0]
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(transport=transport) as client:
            await client.get(f"http://127.0.0.1:{free_port()}/refused")
    assert transport.busy == [0, 0]


def test_the_shared_client_is_sharded_unless_a_proxy_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = validate_config({}, None, env={})
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    assert isinstance(http_client(config)._transport, ShardedTransport)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    proxied = http_client(config)
    assert not isinstance(proxied._transport, ShardedTransport)
    assert any(mount is not None for mount in proxied._mounts.values())


class _ImportLookups:
    """A meta path finder that counts the modules looked for on sys.path (found or not)."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        self.names.append(name)


async def test_a_request_through_the_shared_client_searches_no_import_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # httpcore imports sniffio on every request to learn the event loop's library; with
    # sniffio missing, each request searched sys.path for it again (~67 us each, about seven
    # times a poll), so the daemon depends on sniffio.
    app = SlowApp()
    config = validate_config({}, None, env={})
    async with serve_asgi(app) as url, http_client(config) as client:
        await client.get(f"{url}/warm")  # the first request may import what it needs once
        spy = _ImportLookups()
        monkeypatch.setattr(sys, "meta_path", [spy, *sys.meta_path])
        responses = await asyncio.gather(*(client.get(f"{url}/r{i}") for i in range(5)))
        assert [r.text for r in responses] == [f"/r{i}" for i in range(5)]
    assert spy.names == []
