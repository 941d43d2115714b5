"""The heartbeat against the fault server: bombs, drips, redirects, resets and garbage fail the
ping (counted, logged without the URL) instead of hanging it or filling memory."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr

from quota_watch.config.settings import HeartbeatSettings
from quota_watch.daemon.heartbeat import Heartbeat
from tests.support.faultserver import FaultServer

pytestmark = pytest.mark.slow
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


async def healthy() -> str | None:
    return None


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("bomb", "exceeds"),
        ("bomb_chunked", "exceeds"),
        ("huge", "exceeds"),
        ("drip", "no complete answer within 3s"),
        ("redirect", "HTTP 302"),
        ("reset", "Error"),
        ("garbage", "Error"),
        ("headers", "Error"),
    ],
)
async def test_a_hostile_ping_endpoint_fails_the_ping(
    fault: str, expected: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, "quota_watch")
    with FaultServer() as faults:
        url = faults.url(f"/{fault}") + "?token=ping-secret-token"
        heartbeat = HeartbeatSettings(
            url=SecretStr(url), interval=timedelta(seconds=30), timeout=timedelta(seconds=3)
        )
        async with httpx.AsyncClient() as client:
            beat = Heartbeat(lambda: heartbeat, healthy, client, lambda: T0)
            assert await beat.beat() is False
        assert faults.count("/bomb") == 0 or fault in ("bomb", "redirect")
        if fault == "redirect":
            assert faults.count("/bomb") == 0, "redirects are not followed"
    assert beat.failures_total == 1
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("quota_watch")]
    failure = [m for m in messages if "heartbeat ping failed" in m]
    assert len(failure) == 1 and expected in failure[0], messages
    assert not any("ping-secret-token" in m for m in messages)
