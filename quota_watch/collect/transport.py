"""The shared HTTP client's transport: several small connection pools, each request to the
least busy one.

httpcore 1.0's pool rescans every connection and queued request on each request and each
response close (and, for each idle connection, counts all connections again), so one pool's CPU
per request grows with the concurrency: at 100 polls in flight against one provider a plain GET
cost ~6-7 ms of CPU; spread over 25 pools of 8 connections, ~1.5-2 ms (bench/README.md,
bench_poll_cycle.py). Below 8 requests in flight every request goes to the first pool, which
then behaves as the single pool did.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import httpx

#: Pools, and connections each pool opens at most (the default per-provider cap is 8).
SHARDS = 25
CONNECTIONS_PER_SHARD = 8


class _Released(httpx.AsyncByteStream):
    """A response body that tells its pool's counter when it is closed (once)."""

    def __init__(self, stream: httpx.AsyncByteStream, busy: list[int], shard: int) -> None:
        self._stream = stream
        self._busy = busy
        self._shard: int | None = shard

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._shard is not None:
                self._busy[self._shard] -= 1
                self._shard = None


class ShardedTransport(httpx.AsyncBaseTransport):
    """Requests spread over `shards` connection pools by the fewest open responses."""

    def __init__(
        self,
        shards: int = SHARDS,
        connections: int = CONNECTIONS_PER_SHARD,
        verify: ssl.SSLContext | None = None,
    ) -> None:
        # One SSL context for all pools: each would otherwise load the CA bundle again.
        context = verify or httpx.create_ssl_context()
        # Keep-alive as many as a pool opens: httpcore closes an idle connection whenever its
        # pool holds more connections (busy ones included) than the keep-alive limit.
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self.pools = [
            httpx.AsyncHTTPTransport(verify=context, limits=limits) for _ in range(shards)
        ]
        self.busy = [0] * shards  # open responses (requests in flight) per pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request` through the pool with the fewest responses open."""
        busy = self.busy
        shard = busy.index(min(busy))
        busy[shard] += 1
        try:
            response = await self.pools[shard].handle_async_request(request)
        except BaseException:
            busy[shard] -= 1
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Released(response.stream, busy, shard)
        return response

    async def aclose(self) -> None:
        """Close every pool."""
        for pool in self.pools:
            await pool.aclose()
