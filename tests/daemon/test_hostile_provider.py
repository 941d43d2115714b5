"""A hostile provider against the real daemon: a dripping body cannot hang a poll for ever, and
the account's stale alert fires from the clock while a poll hangs."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
import tomli_w

from tests.support.daemon_proc import DaemonProcess, free_port
from tests.support.faultserver import FaultServer

pytestmark = pytest.mark.slow


def write_config(tmp_path: Path, url: str, polling: dict[str, object]) -> Path:
    document = {
        "store": {"url": f"sqlite:///{tmp_path / 'qw.db'}"},
        "polling": {"jitter": 0.0, **polling},
        "accounts": [
            {
                "name": "hostile",
                "collector": "http_json",
                "interval": "1s",
                "options": {
                    "url": url,
                    "limits": {
                        "used": {
                            "title": "Used",
                            "unit": "count",
                            "measure": "level",
                            "period": "none",
                            "scope": "account",
                            "value": "used",
                            "cap_path": "limit",
                        }
                    },
                },
            }
        ],
    }
    path = tmp_path / "quota-watch.toml"
    path.write_text(tomli_w.dumps(document), encoding="utf-8")
    return path


def runs(db: Path) -> list[tuple[str, str, str, str | None]]:
    """(started_at, finished_at, outcome, error) of every stored run, oldest first."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT started_at, finished_at, outcome, error FROM collector_run ORDER BY id"
        ).fetchall()
    return [(str(a), str(b), str(c), None if d is None else str(d)) for a, b, c, d in rows]


def wait_until(check: Callable[[], bool], what: str, daemon: DaemonProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        daemon.check_alive()
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}\n--- log:\n{daemon.log()}")


def _seconds(started: str, finished: str) -> float:
    return (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()


def test_a_dripping_body_ends_its_poll_within_twice_the_timeout(tmp_path: Path) -> None:
    with FaultServer() as faults:
        faults.routes["/usage"] = "drip"
        config = write_config(tmp_path, faults.url("/usage"), {"timeout": "4s"})
        with DaemonProcess(tmp_path, free_port(), config=config) as daemon:
            daemon.wait_serving()
            db = tmp_path / "qw.db"
            wait_until(lambda: len(runs(db)) >= 2, "two finished polls", daemon, timeout=90)
            for started, finished, outcome, error in runs(db)[:2]:
                assert outcome == "unavailable"
                assert error is not None and "deadline" in error
                assert _seconds(started, finished) <= 2 * 4.0
            assert daemon.stop() == 0


def test_stale_alert_fires_while_a_poll_hangs(tmp_path: Path) -> None:
    with FaultServer() as faults:
        faults.routes["/usage"] = "ok"
        # Neither the per-read timeout (30 s) nor the poll deadline (10 min) ends the drip in
        # this test: only the clock-driven staleness check can raise the alert.
        config = write_config(
            tmp_path, faults.url("/usage"), {"timeout": "30s", "poll_deadline": "10m"}
        )
        with DaemonProcess(tmp_path, free_port(), config=config) as daemon:
            daemon.wait_serving()
            db = tmp_path / "qw.db"
            wait_until(lambda: any(r[2] == "success" for r in runs(db)), "a success", daemon, 60)
            faults.routes["/usage"] = "drip"
            wait_until(lambda: faults.count("/usage") > len(runs(db)), "a hung poll", daemon, 60)
            hung = len(runs(db))
            # stale after 3 intervals of 1 s (rules/default.toml); generous for a loaded machine
            daemon.wait_for('quota_watch_alerts_firing{severity="warning"} 1.0', timeout=60)
            assert len(runs(db)) == hung, "the alert must come while the poll still hangs"
            assert all(r[2] == "success" for r in runs(db))
            assert daemon.stop(timeout=90) == 0  # the drain waits up to 30 s for the hung poll
