"""Self-watch: the outside heartbeat against real loopback receivers, and the process metrics."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from quota_watch.config.errors import ConfigError
from quota_watch.config.load import redacted, validate_config
from quota_watch.config.settings import HeartbeatSettings
from quota_watch.daemon.heartbeat import Heartbeat
from quota_watch.daemon.process import Daemon
from quota_watch.daemon.selfstats import process_stats
from quota_watch.prometheus.exposition import PROCESS_METRICS, HeartbeatFacts, Snapshot, render
from tests.support.daemon_proc import DaemonProcess, free_port
from tests.support.promtool import check_metrics
from tests.support.receivers import HttpReceiver, LoopbackHTTPServer

SECRET = "5f2b7c1e-aaaa-4bbb-8ccc-0123456789ab"  # healthchecks.io-style check UUID
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


class PingReceiver(LoopbackHTTPServer):
    """An HTTP server on 127.0.0.1 recording each GET (path, time); answers `status`."""

    def __init__(self) -> None:
        self.status = 200
        self.pings: list[tuple[str, float, str]] = []  # path, monotonic time, User-Agent
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with receiver.lock:
                    receiver.pings.append(
                        (self.path, time.monotonic(), self.headers.get("User-Agent", ""))
                    )
                    status = receiver.status
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._serve(Handler)

    @property
    def url(self) -> str:
        """The ping URL, with a secret part as healthchecks.io's have."""
        return f"http://127.0.0.1:{self.port}/ping/{SECRET}"

    def count(self) -> int:
        """Pings received so far."""
        with self.lock:
            return len(self.pings)


@pytest.fixture
def receiver() -> Iterator[PingReceiver]:
    with PingReceiver() as running:
        yield running


class Clock:
    """A settable clock."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def settings(url: str | None, **kwargs: Any) -> HeartbeatSettings:
    """Validated heartbeat settings."""
    return HeartbeatSettings(url=SecretStr(url) if url else None, **kwargs)


class Health:
    """A health verdict the test sets (the daemon's real one is tested further down)."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self.calls = 0

    async def __call__(self) -> str | None:
        self.calls += 1
        return self.reason


@pytest.mark.slow
async def test_ping_reaches_a_loopback_receiver(receiver: PingReceiver) -> None:
    clock = Clock()
    async with httpx.AsyncClient(headers={"User-Agent": "quota-watch/test"}) as client:
        beat = Heartbeat(lambda: settings(receiver.url), Health(), client, clock)
        assert beat.facts() == HeartbeatFacts(None, 0)
        assert await beat.beat() is True
    assert [(p, ua) for p, _, ua in receiver.pings] == [(f"/ping/{SECRET}", "quota-watch/test")]
    assert beat.facts() == HeartbeatFacts(T0, 0)


@pytest.mark.slow
async def test_nothing_is_sent_without_a_url(receiver: PingReceiver) -> None:
    health = Health()
    async with httpx.AsyncClient() as client:
        beat = Heartbeat(lambda: settings(None), health, client, Clock())
        assert await beat.beat() is None
    assert beat.facts() is None and health.calls == 0 and receiver.count() == 0


@pytest.mark.slow
async def test_withheld_while_unhealthy_logged_once(
    receiver: PingReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "quota_watch.heartbeat")
    health = Health()
    health.reason = "scheduler not started"
    async with httpx.AsyncClient() as client:
        beat = Heartbeat(lambda: settings(receiver.url), health, client, Clock())
        assert await beat.beat() is None
        assert await beat.beat() is None
        assert receiver.count() == 0
        withheld = [r for r in caplog.records if "heartbeat withheld" in r.getMessage()]
        assert len(withheld) == 1 and "scheduler not started" in withheld[0].getMessage()
        health.reason = None
        assert await beat.beat() is True
    assert receiver.count() == 1
    assert any("healthy again" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
async def test_failed_pings_count_and_never_show_the_url(
    receiver: PingReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    # httpx's own request log carries URLs; the daemon's log set-up keeps it at WARNING
    # (quota_watch.logs), so what matters is what quota-watch itself says.
    caplog.set_level(logging.DEBUG, "quota_watch")
    receiver.status = 503
    async with httpx.AsyncClient() as client:
        beat = Heartbeat(lambda: settings(receiver.url), Health(), client, Clock())
        assert await beat.beat() is False
        closed = f"http://127.0.0.1:{free_port()}/ping/{SECRET}"
        refused = Heartbeat(lambda: settings(closed), Health(), client, Clock())
        assert await refused.beat() is False
    assert beat.facts() == HeartbeatFacts(None, 1)
    assert refused.facts() == HeartbeatFacts(None, 1)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("quota_watch")]
    assert any("HTTP 503" in m for m in ours), ours
    assert any("ConnectError" in m for m in ours), ours
    assert not any(SECRET in m for m in ours), ours


@pytest.mark.slow
async def test_an_apprise_url_is_sent_through_apprise() -> None:
    with HttpReceiver() as sink:
        url = f"json://127.0.0.1:{sink.port}/heartbeat"
        async with httpx.AsyncClient() as client:
            beat = Heartbeat(lambda: settings(url), Health(), client, Clock())
            assert await beat.beat() is True
            sink.status = 500
            assert await beat.beat() is False
        assert len(sink.titles()) == 1 and sink.titles()[0].startswith("quota-watch heartbeat")
        assert beat.facts() == HeartbeatFacts(T0, 1)


@pytest.mark.slow
async def test_run_beats_at_start_then_every_interval_until_stopped(
    receiver: PingReceiver,
) -> None:
    # Below the configurable minimum (10s) to keep the test short: built without validation.
    fast = HeartbeatSettings.model_construct(
        url=SecretStr(receiver.url),
        interval=timedelta(seconds=0.3),
        timeout=timedelta(seconds=0.2),
    )
    stop = asyncio.Event()
    async with httpx.AsyncClient() as client:
        beat = Heartbeat(lambda: fast, Health(), client, Clock())
        started = time.monotonic()
        task = asyncio.create_task(beat.run(stop))
        while receiver.count() < 4:
            assert time.monotonic() - started < 10, receiver.pings
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(task, 2)
    times = [t for _, t, _ in receiver.pings]
    assert times[0] - started < 0.5, "the first ping goes out at start"
    # a fixed cadence from each attempt's start: a slow answer shortens the next gap
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(0.05 < gap < 1.0 for gap in gaps), gaps
    assert 0.2 < (times[-1] - times[0]) / len(gaps) < 0.6, gaps


def test_settings_validate_and_redact() -> None:
    config = validate_config(
        {"heartbeat": {"url": f"https://hc-ping.com/{SECRET}", "interval": "2m"}}, None, {}
    )
    assert config.settings.heartbeat.interval == timedelta(minutes=2)
    assert SECRET not in repr(config.settings.heartbeat)
    assert redacted(config)["heartbeat"]["url"] == "**********"
    from_env = validate_config({}, None, {"QUOTA_WATCH_HEARTBEAT__URL": f"https://x.io/{SECRET}"})
    assert from_env.settings.heartbeat.url is not None
    for bad, message in (
        ({"url": "https://x.io/p", "interval": "5s"}, "interval: at least 10s"),
        ({"url": "https://x.io/p", "timeout": "5m"}, "timeout: must be shorter than interval"),
        ({"url": "not a url"}, "heartbeat.url: expected a URL"),
        ({"url": f"nosuchscheme://{SECRET}"}, "heartbeat.url"),
    ):
        with pytest.raises(ConfigError) as caught:
            validate_config({"heartbeat": bad}, None, {})
        assert any(message in e for e in caught.value.errors), caught.value.errors
        assert SECRET not in str(caught.value.errors)


# --- process metrics --------------------------------------------------------------------------


def _vm_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_process_metrics_are_ours_and_promtool_clean() -> None:
    stats = process_stats()
    assert set(PROCESS_METRICS) <= set(stats)
    assert abs(stats["process_resident_memory_bytes"] - _vm_rss()) < 0.2 * _vm_rss()
    body = render(
        Snapshot((), (), (), heartbeat=HeartbeatFacts(T0, 2), process=stats),
    )
    names = {s.name for f in text_string_to_metric_families(body.decode()) for s in f.samples}
    assert {"process_resident_memory_bytes", "process_cpu_seconds_total"} <= names
    assert "quota_watch_heartbeat_failures_total" in names
    assert "quota_watch_heartbeat_last_success_timestamp_seconds" in names
    unknown = {n for n in names if not n.startswith("quota_watch_")} - {
        f"{n}_total" if kind == "counter" else n for n, (kind, _) in PROCESS_METRICS.items()
    }
    assert unknown == set()
    assert check_metrics(body) == ""
    # no heartbeat configured: no heartbeat series at all (never a made-up 0 timestamp)
    quiet = render(Snapshot((), (), (), process={"process_made_up_bytes": 1.0}))
    assert b"heartbeat" not in quiet and b"process_made_up" not in quiet


# --- the daemon -------------------------------------------------------------------------------


def _samples(body: str) -> dict[str, float]:
    return {
        s.name: s.value
        for f in text_string_to_metric_families(body)
        for s in f.samples
        if not s.labels
    }


def _rss_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.mark.slow
def test_daemon_pings_when_healthy_and_exports_its_own_usage(
    receiver: PingReceiver, tmp_path: Path
) -> None:
    config = tmp_path / "qw.toml"
    config.write_text(
        f'[heartbeat]\nurl = "{receiver.url}"\ninterval = "10s"\ntimeout = "2s"\n\n'
        '[[accounts]]\nname = "vm"\ncollector = "host"\ninterval = "1m"\n'
    )
    with DaemonProcess(tmp_path, free_port(), config=config) as daemon:
        body = daemon.wait_for("quota_watch_heartbeat_last_success_timestamp_seconds", timeout=60)
        assert receiver.count() >= 1
        assert receiver.pings[0][2].startswith("quota-watch/")
        got = _samples(body)
        assert got["quota_watch_heartbeat_failures_total"] == 0
        assert abs(got["quota_watch_heartbeat_last_success_timestamp_seconds"] - time.time()) < 60
        rss = got["process_resident_memory_bytes"]
        assert abs(rss - _rss_of(daemon.proc.pid)) < 0.2 * rss
        assert got["process_cpu_seconds_total"] > 0
        assert check_metrics(body.encode()) == ""
        assert daemon.stop() == 0, daemon.log()
        log = daemon.log()
    assert SECRET not in log and "Traceback" not in log


class TcpProxy:
    """A loopback TCP forwarder that can be cut (every connection dropped) and restored."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        """Listen (on the same port as before, after a cut)."""
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = int(self.server.sockets[0].getsockname()[1])

    async def cut(self) -> None:
        """Stop listening and drop every forwarded connection."""
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()
        await asyncio.sleep(0.05)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.writers |= {writer, up_writer}

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
async def test_daemon_withholds_the_heartbeat_while_the_store_is_unreachable(
    store_url: str, receiver: PingReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "quota_watch.heartbeat")
    url = make_url(store_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    config = validate_config(
        {
            "server": {"listen": f"127.0.0.1:{free_port()}"},
            "store": {"url": proxied},
            "heartbeat": {"url": receiver.url, "interval": "10m", "timeout": "3s"},
        },
        None,
        {},
    )
    daemon = Daemon(config)
    running = asyncio.create_task(daemon.run())
    deadline = time.monotonic() + 30
    while receiver.count() < 1:  # the first ping goes out at start
        assert time.monotonic() < deadline and not running.done(), "no ping at start"
        await asyncio.sleep(0.05)
    assert daemon.heartbeat is not None
    try:
        await proxy.cut()
        assert await daemon.health() is not None
        assert await daemon.heartbeat.beat() is None
        assert receiver.count() == 1, "no ping while the store is unreachable"
        assert any("store unreachable" in r.getMessage() for r in caplog.records)

        await proxy.start()
        assert await daemon.health() is None
        assert await daemon.heartbeat.beat() is True
        assert receiver.count() == 2
    finally:
        daemon.stop.set()
        assert await asyncio.wait_for(running, 60) == 0
