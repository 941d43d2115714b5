"""The real daemon end to end: embedded default, collect --once, SIGHUP, SIGTERM, SIGKILL."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from quota_watch_collectors.host.collector import is_oracle_instance

from quota_watch.testing.emulator import Emulator, Faults, demo_accounts
from tests.support.daemon_proc import DaemonProcess, free_port, isolated_env
from tests.support.promtool import check_metrics

pytestmark = pytest.mark.slow


def _booted_this_month() -> bool:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            boot = datetime.fromtimestamp(int(line.split()[1]), UTC)
            now = datetime.now(UTC)
            return (boot.year, boot.month) == (now.year, now.month)
    return False


def _samples(body: str) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            out.setdefault(s.name, []).append(s.labels)
    return out


def test_embedded_default_serves_host_metrics_and_stops_cleanly(tmp_path: Path) -> None:
    with DaemonProcess(tmp_path, free_port()) as daemon:
        body = daemon.wait_for('limit="disk_used"', timeout=60)
        got = _samples(body)
        usage = got["quota_watch_usage_bytes"]
        ratio = got["quota_watch_utilization_ratio"]
        root = {"provider": "host", "account": "host", "limit": "disk_used", "resource": "/"}
        assert root in usage and root in ratio
        egress = {"provider": "host", "account": "host", "limit": "network_egress"}
        if _booted_this_month():
            assert egress in usage
            # Oracle's 10 TB cap applies only on an Oracle instance: elsewhere no ratio.
            assert (egress in ratio) is is_oracle_instance(Path("/sys"))
        else:  # the month's total starts at the first poll: said so, never a made-up 0
            assert egress not in usage
            assert "egress" in daemon.log().lower()
        assert check_metrics(body.encode()) == ""
        ready = daemon.get("/readyz")
        assert ready is not None and ready.status_code == 200
        health = daemon.get("/healthz")
        assert health is not None and health.status_code == 200
        assert daemon.stop() == 0, daemon.log()
        assert "Traceback" not in daemon.log()


def _df_root() -> tuple[int, int]:
    """df's Used and Avail of /: the host collector's value and cap is used + avail."""
    out = subprocess.run(
        ["df", "-B1", "--output=used,avail", "/"], capture_output=True, text=True, check=True
    ).stdout.split("\n")[1]
    used, avail = (int(x) for x in out.split())
    return used + avail, used


@pytest.mark.skipif(shutil.which("df") is None, reason="no df on this machine")
def test_collect_once_json_agrees_with_df(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "quota_watch", "collect", "--once", "--format", "json"],
        cwd=tmp_path,
        env=isolated_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    keys = {"provider", "account", "limit", "resource", "value", "cap", "cap_source", "unit"}
    keys |= {"utilization", "period_start", "period_end"}
    assert all(keys <= set(row) for row in rows)
    root = next(r for r in rows if r["limit"] == "disk_used" and r["resource"] == "/")
    size, used = _df_root()
    assert root["cap"] == size
    assert root["cap_source"] == "api"
    # other processes write to the disk between the two reads: allow a little drift
    assert abs(root["value"] - used) < 256 * 2**20, (root["value"], used)
    assert root["utilization"] == pytest.approx(root["value"] / root["cap"])


def test_sighup_reloads_accounts_and_survives_a_bad_config(tmp_path: Path) -> None:
    accounts = demo_accounts(3)
    with Emulator(accounts, seed=1) as emulator:
        config = tmp_path / "quota-watch.toml"
        store = f"sqlite:///{tmp_path / 'qw.db'}"
        config.write_text(emulator.config_toml(["acct-01"], interval="1s", store_url=store))
        with DaemonProcess(tmp_path, free_port(), config=config) as daemon:
            daemon.wait_for('account="acct-01"')
            config.write_text(
                emulator.config_toml(["acct-02", "acct-03"], interval="1s", store_url=store)
            )
            daemon.signal(signal.SIGHUP)
            body = daemon.wait_for('quota_watch_usage{account="acct-03"')
            assert 'account="acct-02"' in body
            deadline = time.monotonic() + 60
            while 'account="acct-01"' in body and time.monotonic() < deadline:
                time.sleep(0.2)
                body = daemon.wait_for('account="acct-02"')
            assert 'account="acct-01"' not in body

            config.write_text("[[accounts]]\nname = 'x'\ncollector = 'no-such-collector'\n")
            daemon.signal(signal.SIGHUP)
            deadline = time.monotonic() + 60
            while "reload failed" not in daemon.log() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert "reload failed" in daemon.log()
            assert "no-such-collector" in daemon.log()
            daemon.wait_for('account="acct-03"')  # still serving the running config
            assert daemon.stop() == 0, daemon.log()


def _committed(db: Path) -> set[tuple[int, str]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return set(conn.execute("SELECT series_id, ts FROM sample").fetchall())
    finally:
        conn.close()


def test_sigkill_mid_polling_loses_no_committed_sample(tmp_path: Path) -> None:
    accounts = demo_accounts(30)
    with Emulator(accounts, faults=Faults(latency=0.02, jitter=0.02), seed=2) as emulator:
        config = tmp_path / "quota-watch.toml"
        db = tmp_path / "qw.db"
        config.write_text(emulator.config_toml(interval="1s", store_url=f"sqlite:///{db}"))
        with DaemonProcess(tmp_path, free_port(), config=config) as daemon:
            daemon.wait_for('account="acct-30"', timeout=60)
            seen: set[tuple[int, str]] = set()
            for _ in range(10):
                time.sleep(0.25)
                now = _committed(db)
                assert seen <= now
                seen = now
            daemon.proc.send_signal(signal.SIGKILL)  # right after a read: polls are in flight
            daemon.proc.wait(10)
            assert daemon.proc.returncode == -signal.SIGKILL
    assert len(seen) > 30
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()
    after = _committed(db)
    assert seen <= after, f"{len(seen - after)} committed samples lost"
    # and the daemon starts again on that database
    with DaemonProcess(tmp_path, free_port(), config=config) as daemon:
        daemon.wait_for('account="acct-01"', timeout=60)
        assert daemon.stop() == 0


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with DaemonProcess(tmp_path, port) as daemon:
            assert daemon.proc.wait(30) == 1
            log = daemon.log()
    assert f"cannot listen on 127.0.0.1:{port}" in log
    assert "Traceback" not in log
