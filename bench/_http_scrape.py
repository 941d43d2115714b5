"""Scrape ASGI apps over loopback HTTP from a client process, timing the server's CPU.

The server (uvicorn, as the daemon runs it) is in this process and the client in another, so
this process's CPU time during the scrapes is the server's alone: the route, the rendering,
the HTTP layer and the socket writes. Peak RSS is reset before the scrapes (Linux
/proc/self/clear_refs), so the high-water mark shows what a scrape holds on top.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from _common import free_port, median

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]

#: Prometheus' own Accept header (2.x): OpenMetrics preferred.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
TEXT = {"Accept": "text/plain", "Accept-Encoding": "identity"}
PROMETHEUS = {"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip"}

_CLIENT = r"""
import http.client, json, sys, time
port, path, n, headers = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
walls, size = [], 0
sys.stdin.readline()  # started: the server's CPU is counted from here
for _ in range(n):
    t = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    size = len(response.read())
    conn.close()
    walls.append(time.perf_counter() - t)
    if response.status != 200:
        raise SystemExit(f"HTTP {response.status}")
print(json.dumps({"walls": walls, "size": size}))
"""


@dataclass(frozen=True)
class HttpFigures:
    """One scenario's scrapes: server CPU and client wall per scrape (medians), bytes sent,
    and the peak RSS above the RSS before the scrapes."""

    cpu: float
    wall: float
    size: int
    peak_extra: int


def routed(ours: ASGIApp, peer: ASGIApp, peer_path: str = "/peer") -> ASGIApp:
    """One ASGI app: `peer` at `peer_path`, `ours` everywhere else."""

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == peer_path:
            await peer(scope, receive, send)
        else:
            await ours(scope, receive, send)

    return app


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> None:
    # Not Linux, or not allowed: the peak then covers the whole run.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


async def _scrapes(port: int, path: str, n: int, headers: dict[str, str]) -> HttpFigures:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CLIENT, str(port), path, str(n), json.dumps(headers),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None
    _reset_peak()
    rss = _status_kib("VmRSS")
    cpu0 = time.process_time()
    proc.stdin.write(b"go\n")
    await proc.stdin.drain()
    out, _ = await proc.communicate()
    cpu = time.process_time() - cpu0
    if proc.returncode != 0:
        raise SystemExit(f"the scraping client failed ({proc.returncode})")
    report = json.loads(out)
    return HttpFigures(cpu / n, median(report["walls"]), report["size"], _status_kib("VmHWM") - rss)


async def _serve_and_scrape(
    app: ASGIApp, plan: list[tuple[str, str, int, dict[str, str]]]
) -> dict[str, HttpFigures]:
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110  (uvicorn exposes no event for it)
        await asyncio.sleep(0.01)
    figures: dict[str, HttpFigures] = {}
    try:
        for label, path, n, headers in plan:
            await _scrapes(port, path, 1, headers)  # warm-up
            figures[label] = await _scrapes(port, path, n, headers)
    finally:
        server.should_exit = True
        await serving
    return figures


def scrape_http(
    app: ASGIApp, plan: list[tuple[str, str, int, dict[str, str]]]
) -> dict[str, HttpFigures]:
    """Serve `app` on loopback and run `plan`: (label, path, scrapes, request headers)."""
    return asyncio.run(_serve_and_scrape(app, plan))
