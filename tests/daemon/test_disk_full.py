"""A full disk is not invisible: /readyz turns red, the heartbeat stops, the log stays small,
and everything recovers when space is back. The disk is a real 4 MB tmpfs (root only)."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from quota_watch.daemon.server import create_app
from quota_watch.prometheus.exposition import Snapshot
from quota_watch.store.models import StoreError
from tests.support.daemon_proc import DaemonProcess, free_port
from tests.support.faultserver import FaultServer


@contextlib.contextmanager
def tiny_disk(where: Path, size: str = "4m") -> Iterator[Path]:
    """A tmpfs of `size` mounted at `where` (skips the test where mounting is not allowed)."""
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the disk is full; returns it."""
    filler = disk / "filler"
    chunk = b"\0" * 65536
    with filler.open("wb") as handle:
        while True:
            try:
                handle.write(chunk)
                handle.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
        with contextlib.suppress(OSError):
            os.fsync(handle.fileno())
    return filler


def wait_until(check: Callable[[], bool], what: str, daemon: DaemonProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        daemon.check_alive()
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}\n--- log:\n{daemon.log()}")


def status(daemon: DaemonProcess, path: str) -> int:
    response = daemon.get(path)
    return 0 if response is None else response.status_code


@pytest.mark.slow
def test_full_disk_turns_readyz_red_and_stops_the_heartbeat(tmp_path: Path) -> None:
    with tiny_disk(tmp_path / "disk") as disk, FaultServer() as faults:
        config = tmp_path / "quota-watch.toml"
        config.write_text(
            f'[store]\nurl = "sqlite:///{disk / "qw.db"}"\n'
            f'[heartbeat]\nurl = "{faults.url("/ping")}"\ninterval = "10s"\ntimeout = "5s"\n'
            '[[accounts]]\nname = "vm"\ncollector = "host"\ninterval = "1s"\n'
        )
        faults.routes["/ping"] = "ok"
        with DaemonProcess(tmp_path, free_port(), config=config) as daemon:
            daemon.wait_serving(timeout=60)
            wait_until(lambda: faults.count("/ping") >= 1, "a first ping", daemon, 60)

            filler = fill(disk)
            wait_until(lambda: status(daemon, "/readyz") == 503, "/readyz red", daemon, 90)
            ready = daemon.get("/readyz")
            assert ready is not None and "refused the last" in ready.text
            assert status(daemon, "/healthz") == 200  # alive: systemd must not restart it
            assert status(daemon, "/metrics") == 200  # reads still work
            pings = faults.count("/ping")
            time.sleep(25)  # two heartbeat intervals
            assert faults.count("/ping") == pings, "no heartbeat while nothing is stored"

            log = daemon.log()
            assert "Traceback" not in log
            failed = log.count("storing the poll of vm failed")
            assert 1 <= failed <= 3, log  # folded: once per interval, not once per poll

            filler.unlink()
            wait_until(lambda: status(daemon, "/readyz") == 200, "/readyz green", daemon, 90)
            wait_until(lambda: faults.count("/ping") > pings, "the heartbeat back", daemon, 60)
            assert daemon.stop() == 0


def _app(snapshot: Callable[[], Snapshot]) -> Starlette:
    async def render() -> Snapshot:
        return snapshot()

    return create_app(render, lambda: None)


async def test_metrics_serve_the_last_good_exposition_or_503() -> None:
    broken = [True]

    def snapshot() -> Snapshot:
        if broken[0]:
            raise StoreError("cannot reach postgresql://qw@db/qw: connection refused")
        return Snapshot(readings=(), statuses=(), accounts=())

    transport = httpx.ASGITransport(app=_app(snapshot))
    async with httpx.AsyncClient(transport=transport, base_url="http://qw") as client:
        first = await client.get("/metrics")
        assert first.status_code == 503 and "Traceback" not in first.text
        broken[0] = False
        good = await client.get("/metrics")
        assert good.status_code == 200 and "quota_watch_build_info" in good.text
        broken[0] = True
        cached = await client.get("/metrics")
        assert cached.status_code == 200 and cached.text == good.text
        assert cached.headers["X-Snapshot-Age"].isdigit()
