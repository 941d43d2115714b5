"""A FakeProvider served over real HTTP on loopback, so collectors run through a real socket.

The same routes (status codes, headers, bodies) that `FakeProvider` answers in-process are
served by a uvicorn server on 127.0.0.1; `point_at` rewrites a collector's options so that its
`api_base` (or, for `http_json`, the host of its `url`) is that server.

Usage::

    with LoopbackProvider(FakeProvider(routes)) as server:
        options = point_at(MyCollector.Options, raw_options, server.base_url)
        async with httpx.AsyncClient() as client:
            readings = await MyCollector(options, client).collect(ctx)
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route as StarletteRoute

from quota_watch.testing.router import FakeProvider, UnmatchedRequest
from quota_watch.testing.threaded import ThreadedServer

__all__ = ["LoopbackProvider", "point_at"]

_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
_HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "content-encoding"}


class LoopbackProvider:
    """Serves `provider`'s routes on 127.0.0.1; every request is recorded by the provider."""

    def __init__(self, provider: FakeProvider) -> None:
        self.provider = provider
        app = Starlette(routes=[StarletteRoute("/{path:path}", self._answer, methods=_METHODS)])
        self._server = ThreadedServer(app, name="quota-watch-loopback-provider")

    def __enter__(self) -> Self:
        self._server.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.stop()

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT of the running server."""
        return f"http://127.0.0.1:{self._server.port}"

    async def _answer(self, request: Request) -> Response:
        url = httpx.URL(str(request.url))
        forwarded = httpx.Request(
            request.method,
            url,
            headers=[(k, v) for k, v in request.headers.items() if k.lower() != "host"],
            content=await request.body(),
        )
        try:
            answer = self.provider.handle(forwarded)
        except UnmatchedRequest:  # recorded in provider.unmatched; the case check reports it
            return Response("no route matches this request", status_code=501)
        headers = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_HEADERS}
        return Response(answer.content, status_code=answer.status_code, headers=headers)


def point_at(model: type[BaseModel], raw: Mapping[str, Any], base_url: str) -> BaseModel | None:
    """`raw` options validated with the scheme and host of `api_base` (keeping its path) or of
    http_json's `url` set to `base_url`'s; None when the options have neither."""
    options = dict(raw)
    target = urlsplit(base_url)
    if "api_base" in model.model_fields:
        original = options.get("api_base") or model.model_fields["api_base"].default
        path = urlsplit(str(original)).path if original else ""
        options["api_base"] = urlunsplit((target.scheme, target.netloc, path, "", ""))
    elif "url" in model.model_fields and isinstance(options.get("url"), str):
        parts = urlsplit(options["url"])
        options["url"] = urlunsplit((target.scheme, target.netloc, *parts[2:]))
    else:
        return None
    return model.model_validate(options)
