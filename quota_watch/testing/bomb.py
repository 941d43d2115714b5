"""A gzip bomb on loopback: `size` bytes of zeros, compressed as they are sent, never stored.

with GzipBomb(2**30) as bomb:          # 1 GiB inflated, about 1 MiB on the wire
    await client.get(bomb.url)          # any path, any method
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from quota_watch.testing.threaded import ServedInThread, ThreadedServer

__all__ = ["GzipBomb", "gzip_zeros"]

_BLOCK = 1 << 20


def gzip_zeros(size: int) -> Iterator[bytes]:
    """A gzip stream of `size` zero bytes, produced a MiB of input at a time."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(_BLOCK)
    left = size
    while left > 0:
        step = min(left, _BLOCK)
        piece = packer.compress(zeros[:step])
        if piece:
            yield piece
        left -= step
    yield packer.flush()


class GzipBomb(ServedInThread):
    """Answers every request with `Content-Encoding: gzip` over `size` zeros (JSON-typed)."""

    def __init__(self, size: int = 2**30, host: str = "127.0.0.1") -> None:
        self.size = size
        self.requests = 0

        async def answer(request: Request) -> StreamingResponse:
            self.requests += 1
            return StreamingResponse(
                gzip_zeros(self.size),
                headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
            )

        methods = ["GET", "POST"]
        app: Any = Starlette(routes=[Route("/{path:path}", answer, methods=methods)])
        self._http = ThreadedServer(app, host=host, name="gzip-bomb")

    @property
    def url(self) -> str:
        """The server's base URL (every path answers the same)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def port(self) -> int:
        """The bound TCP port."""
        return self._http.port
