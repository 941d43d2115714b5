"""Fake provider for collector tests: an httpx.MockTransport that answers from a list of routes.

Each `Route` matches on method and path, optionally on a subset of query parameters and on the
GraphQL operation name of a JSON POST body. Routes are tried in order; a route with `times`
answers that many times and is then skipped, so a case can answer 429 once and 200 afterwards.
A request that matches no route raises `UnmatchedRequest` (an AssertionError) listing the
request's method and path and every known route, and never any header.

Usage::

    from quota_watch.testing import FakeProvider, Route

    provider = FakeProvider([
        Route("GET", "/v1/usage", status=429, headers={"Retry-After": "30"}, times=1),
        Route("GET", "/v1/usage", body={"used": 12}),
    ])
    async with provider.client(base_url="https://api.example.com") as client:
        first = await client.get("/v1/usage")   # 429
        second = await client.get("/v1/usage")  # 200, JSON body
    assert [r.path for r in provider.requests] == ["/v1/usage", "/v1/usage"]

The transport catches every host, so a collector pointed at any `api_base` reaches it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["FakeProvider", "RecordedRequest", "Route", "UnmatchedRequest"]

JsonBody = dict[str, Any] | list[Any]

# Query parameters whose values may be credentials are shown as "***" in failure messages.
_SECRET_PARAM = re.compile(r"key|token|secret|pass|auth|sig|credential|session", re.IGNORECASE)
# `query GetUsage(...) {` / `mutation Foo {`: the first named operation of a GraphQL document.
_GRAPHQL_OPERATION = re.compile(r"\b(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)")


@dataclass(frozen=True)
class Route:
    """One canned response: matched on method, path, GraphQL operation and a query subset."""

    method: str
    path: str
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | str | JsonBody | None = None
    operation: str | None = None
    query: Mapping[str, str] | None = None
    times: int | None = None

    def __post_init__(self) -> None:
        if not self.path.startswith("/"):
            raise ValueError(f"route path must start with '/', got {self.path!r}")
        if "?" in self.path:
            raise ValueError(f"route {self.path!r}: put query parameters in `query`, not the path")
        if self.times is not None and self.times < 1:
            raise ValueError(f"route {self.path!r}: times must be >= 1 (or None for unlimited)")
        if not 100 <= self.status <= 599:
            raise ValueError(f"route {self.path!r}: status {self.status} is not an HTTP status")

    def describe(self) -> str:
        """A one-line description (no header values) used in failure messages."""
        text = f"{self.method.upper()} {self.path}"
        if self.query:
            text += " ?" + "&".join(f"{k}={v}" for k, v in self.query.items())
        if self.operation:
            text += f" operation={self.operation}"
        text += f" -> {self.status}"
        if self.times is not None:
            text += f" (times={self.times})"
        return text

    def response(self) -> httpx.Response:
        """Build the httpx.Response this route answers with."""
        headers = httpx.Headers(dict(self.headers))
        content: bytes
        if self.body is None:
            content = b""
        elif isinstance(self.body, bytes):
            content = self.body
        elif isinstance(self.body, str):
            content = self.body.encode()
        else:
            content = json.dumps(self.body).encode()
            if "content-type" not in headers:
                headers["Content-Type"] = "application/json"
        return httpx.Response(self.status, headers=headers, content=content)


@dataclass(frozen=True)
class RecordedRequest:
    """A request the fake provider received (headers kept out of repr: they carry tokens)."""

    method: str
    path: str
    query: dict[str, str]  # last value of each parameter; see `query_items` for repeats
    json: Any  # the decoded JSON body, or None when the body is empty or not JSON
    content: bytes = field(repr=False)
    headers: httpx.Headers = field(repr=False)
    query_items: tuple[tuple[str, str], ...] = field(default=(), repr=False)


class UnmatchedRequest(AssertionError):
    """A request reached the fake provider that no route answers: the case is incomplete."""


def _graphql_operation(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    name = body.get("operationName")
    if isinstance(name, str) and name:
        return name
    document = body.get("query")
    if isinstance(document, str):
        match = _GRAPHQL_OPERATION.search(document)
        if match is not None:
            return match.group(1)
    return None


def _decode_json(content: bytes) -> Any:
    if not content:
        return None
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return None


class FakeProvider:
    """Answers requests from `routes` in order; records every request it receives."""

    def __init__(self, routes: Sequence[Route]) -> None:
        self.routes: list[Route] = list(routes)
        self.hits: list[int] = [0] * len(self.routes)
        self.requests: list[RecordedRequest] = []
        self.unmatched: list[UnmatchedRequest] = []
        self.transport = httpx.MockTransport(self.handle)

    def client(self, base_url: str = "https://provider.test", **kwargs: Any) -> httpx.AsyncClient:
        """An AsyncClient whose every request (any host) is answered by this fake provider."""
        return httpx.AsyncClient(transport=self.transport, base_url=base_url, **kwargs)

    def unused(self) -> list[Route]:
        """Routes that never answered a request."""
        return [route for route, hits in zip(self.routes, self.hits, strict=True) if hits == 0]

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer `request` from the first matching route (raises UnmatchedRequest)."""
        content = request.read()
        body = _decode_json(content)
        items = tuple(request.url.params.multi_items())
        recorded = RecordedRequest(
            method=request.method.upper(),
            path=request.url.path,
            query=dict(items),
            json=body,
            content=content,
            headers=request.headers,
            query_items=items,
        )
        self.requests.append(recorded)
        operation = _graphql_operation(body)
        for index, route in enumerate(self.routes):
            if route.times is not None and self.hits[index] >= route.times:
                continue
            if self._matches(route, recorded, operation):
                self.hits[index] += 1
                return route.response()
        error = UnmatchedRequest(self._unmatched_message(recorded, operation))
        self.unmatched.append(error)
        raise error

    @staticmethod
    def _matches(route: Route, request: RecordedRequest, operation: str | None) -> bool:
        if route.method.upper() != request.method or route.path != request.path:
            return False
        if route.operation is not None and route.operation != operation:
            return False
        for key, wanted in (route.query or {}).items():
            if str(wanted) not in [v for k, v in request.query_items if k == key]:
                return False
        return True

    def _unmatched_message(self, request: RecordedRequest, operation: str | None) -> str:
        text = f"no route answers {request.method} {request.path}"
        if request.query_items:
            shown = "&".join(
                f"{k}={'***' if _SECRET_PARAM.search(k) else v}" for k, v in request.query_items
            )
            text += f" ?{shown}"
        if operation:
            text += f" operation={operation}"
        lines = [text, "known routes:"]
        for route, hits in zip(self.routes, self.hits, strict=True):
            exhausted = route.times is not None and hits >= route.times
            lines.append(f"  {route.describe()}{' [exhausted]' if exhausted else ''}")
        if not self.routes:
            lines.append("  (none)")
        return "\n".join(lines)
