"""Alerts end to end with real parts: the daemon, apprise, an SMTP server and an HTTP receiver."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.daemon_proc import DaemonProcess, free_port
from tests.support.receivers import HttpReceiver, SmtpReceiver

pytestmark = pytest.mark.slow


def config_text(tmp_path: Path, smtp: int, http: int, cap: str) -> str:
    return f"""
[store]
url = "sqlite:///{tmp_path / "qw.db"}"

[alerts]
retry_initial = "1s"
retry_max = "2s"
outbox_interval = "1s"

[[accounts]]
name = "vm"
collector = "host"
interval = "1s"
[accounts.limits]
block_storage = "{cap}"

[[notifiers]]
name = "mail"
url = "mailto://127.0.0.1:{smtp}?from=quota-watch@example.com&to=ops@example.com"
severities = ["critical"]
format = "text"

[[notifiers]]
name = "hook"
url = "json://127.0.0.1:{http}/alerts"
severities = ["critical"]
"""


def wait_until(
    check: Callable[[], bool], what: str, daemon: DaemonProcess, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if daemon.proc.poll() is not None:
            raise AssertionError(f"daemon exited while waiting for {what}:\n{daemon.log()}")
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n--- log:\n{daemon.log()}")


def critical(titles: list[str]) -> list[str]:
    return [t for t in titles if t.startswith("[CRITICAL]") and "block_storage" in t]


def resolved(titles: list[str]) -> list[str]:
    return [t for t in titles if t.startswith("[RESOLVED]") and "block_storage" in t]


def test_alert_lifecycle_through_smtp_and_http(tmp_path: Path) -> None:
    config = tmp_path / "quota-watch.toml"
    with SmtpReceiver() as smtp, HttpReceiver() as http:
        config.write_text(config_text(tmp_path, smtp.port, http.port, "1 kB"))
        with DaemonProcess(tmp_path, free_port(), config=config) as daemon:
            wait_until(lambda: len(critical(smtp.subjects())) >= 1, "the critical mail", daemon)
            wait_until(lambda: len(critical(http.titles())) >= 1, "the critical post", daemon)
            time.sleep(3)  # several more polls: still exactly one message per channel
            assert len(critical(smtp.subjects())) == 1, smtp.subjects()
            assert len(critical(http.titles())) == 1, http.titles()
            metrics = daemon.wait_for('quota_watch_alerts_firing{severity="critical"} 1.0')
            assert 'quota_watch_notifications_total{notifier="mail"} 1.0' in metrics
            assert daemon.stop() == 0

        # a restart mid-incident neither repeats nor forgets the notification
        with DaemonProcess(tmp_path, free_port(), config=config) as daemon:
            daemon.wait_for('quota_watch_alerts_firing{severity="critical"} 1.0')
            time.sleep(3)
            assert len(critical(smtp.subjects())) == 1, smtp.subjects()
            assert len(critical(http.titles())) == 1, http.titles()

            # the cap goes back to normal while the HTTP receiver is failing
            http.status = 500
            config.write_text(config_text(tmp_path, smtp.port, http.port, "1 PB"))
            daemon.signal(signal.SIGHUP)
            wait_until(lambda: len(resolved(smtp.subjects())) == 1, "the resolved mail", daemon)
            wait_until(lambda: http.refused >= 2, "failed deliveries to the hook", daemon)
            assert resolved(http.titles()) == []
            http.status = 200  # the channel recovers: the message arrives, once
            wait_until(lambda: len(resolved(http.titles())) == 1, "the resolved post", daemon)
            time.sleep(2)
            assert len(resolved(http.titles())) == 1
            assert len(resolved(smtp.subjects())) == 1
            metrics = daemon.wait_for('quota_watch_alerts_firing{severity="critical"} 0.0')
            assert 'quota_watch_notification_failures_total{notifier="hook"}' in metrics
            assert daemon.stop() == 0
            assert "Traceback" not in daemon.log()
