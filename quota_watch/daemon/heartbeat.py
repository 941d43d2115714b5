"""Outside heartbeat: ping a URL every interval while the daemon is healthy (a dead man's switch).

A service such as healthchecks.io raises the alarm when the pings stop, which covers what the
daemon cannot report itself: the VM gone, the process dead or wedged, the store unreachable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime

import httpx

from quota_watch import __version__
from quota_watch.config.settings import HeartbeatSettings
from quota_watch.notify.deliver import scrub, send
from quota_watch.prometheus.exposition import HeartbeatFacts
from quota_watch.sdk import CollectorError, read_body

log = logging.getLogger("quota_watch.heartbeat")

#: a ping's answer is read up to this size (hc-ping.com answers "OK"): a hostile or broken
#: endpoint must not make the daemon hold a large (or decompressed) body
PING_BODY_LIMIT = 64 * 1024

#: how long to wait before looking again when no heartbeat URL is configured (SIGHUP may add one)
IDLE_RECHECK = 60.0

HealthCheck = Callable[[], Awaitable[str | None]]


def is_http(url: str) -> bool:
    """True for a plain http(s) URL (pinged with GET); anything else goes through apprise."""
    return url.split("://", 1)[0].lower() in ("http", "https")


class Heartbeat:
    """Pings the configured URL while `health()` says the daemon is healthy."""

    def __init__(
        self,
        settings: Callable[[], HeartbeatSettings],
        health: HealthCheck,
        client: httpx.AsyncClient,
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.health = health
        self.client = client
        self.clock = clock
        self.last_success_at: datetime | None = None
        self.failures_total = 0
        self.pings_total = 0
        self._unhealthy: str | None = None  # the reason last logged, so it is logged once

    def facts(self) -> HeartbeatFacts | None:
        """What /metrics shows, or None while no heartbeat URL is configured."""
        if self.settings().url is None:
            return None
        return HeartbeatFacts(self.last_success_at, self.failures_total)

    async def beat(self) -> bool | None:
        """One round: check health, then ping. True: pinged; False: ping failed; None: skipped."""
        settings = self.settings()
        if settings.url is None:
            return None
        reason = await self.health()
        if reason is not None:
            if reason != self._unhealthy:
                log.warning("heartbeat withheld: %s", reason)
            self._unhealthy = reason
            return None
        if self._unhealthy is not None:
            log.info("healthy again: heartbeat resumes")
            self._unhealthy = None
        url = settings.url.get_secret_value()
        timeout = settings.timeout.total_seconds()
        error = await (self._get(url, timeout) if is_http(url) else self._notify(url, timeout))
        if error is None:
            self.pings_total += 1
            self.last_success_at = self.clock()
            log.debug("heartbeat sent")
            return True
        self.failures_total += 1
        log.warning("heartbeat ping failed: %s", error)
        return False

    async def _get(self, url: str, limit: float) -> str | None:
        # Redirects are not followed (ping the final URL), the body is read bounded, and the
        # whole ping has a deadline: httpx's timeout is per read, which a drip never trips.
        try:
            async with asyncio.timeout(limit):
                request = self.client.build_request("GET", url, timeout=limit)
                response = await self.client.send(request, stream=True, follow_redirects=False)
                try:
                    await read_body(response, PING_BODY_LIMIT, "heartbeat")
                finally:
                    await response.aclose()
        except TimeoutError:
            return f"no complete answer within {limit:g}s"
        except CollectorError as exc:
            return scrub(str(exc), url) or type(exc).__name__
        except httpx.HTTPError as exc:
            detail = scrub(str(exc), url)
            return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
        if not response.is_success:
            return f"HTTP {response.status_code}"
        return None

    async def _notify(self, url: str, limit: float) -> str | None:
        host = socket.gethostname()
        ok, error = await send(
            url,
            f"quota-watch heartbeat ({host})",
            f"quota-watch {__version__} on {host} is running and healthy.",
            "text",
            time_limit=limit,
        )
        return None if ok else (error or "delivery failed")

    async def run(self, stop: asyncio.Event) -> None:
        """Beat at once, then every interval, until `stop` is set; never raises."""
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            started = loop.time()
            try:
                await self.beat()
            except Exception as exc:  # the heartbeat must never take the daemon down
                self.failures_total += 1
                log.error("heartbeat failed: %s", type(exc).__name__)
            settings = self.settings()
            every = settings.interval.total_seconds() if settings.url else IDLE_RECHECK
            wait = max(0.0, started + every - loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
