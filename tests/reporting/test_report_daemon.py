"""The report beside a real daemon: it reads the store read-only while the daemon polls and
writes every second, and never fails or blocks the writer."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from quota_watch.testing.emulator import Emulator, demo_accounts
from tests.support.daemon_proc import DaemonProcess, free_port, isolated_env
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow  # a real daemon process


def _accounts_stored(db: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    except sqlite3.OperationalError:  # not created yet
        return 0
    try:
        return int(conn.execute("SELECT count(DISTINCT account) FROM series").fetchone()[0])
    except sqlite3.OperationalError:  # its tables not created yet
        return 0
    finally:
        conn.close()


def _samples(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM sample").fetchone()[0])
    finally:
        conn.close()


def test_report_runs_while_the_daemon_writes(tmp_path: Path) -> None:
    accounts = demo_accounts(6)
    with Emulator(accounts, seed=3) as emulator:
        config = tmp_path / "quota-watch.toml"
        db = tmp_path / "qw.db"
        config.write_text(emulator.config_toml(interval="1s", store_url=f"sqlite:///{db}"))
        with DaemonProcess(tmp_path, free_port(), config=config) as daemon:
            daemon.wait_for('account="acct-06"', timeout=60)
            # /metrics names an account before its first poll is committed: wait for the store
            # to hold a series of every account, so the first report has rows to show.
            wait_until(lambda: _accounts_stored(db) == 6, 60, "every account's first poll stored")
            before = _samples(db)
            runs = []
            for fmt in ["json"] * 6 + ["table", "csv", "markdown"]:
                proc = subprocess.run(
                    [sys.executable, "-m", "quota_watch", "report", "-c", str(config), "-f", fmt],
                    cwd=tmp_path,
                    env=isolated_env(tmp_path),
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                assert proc.returncode == 0, proc.stderr
                assert "Traceback" not in proc.stderr
                if fmt == "json":
                    runs.append(json.loads(proc.stdout))
            history = subprocess.run(
                [
                    *(sys.executable, "-m", "quota_watch", "history", "-c", str(config)),
                    *("-a", "acct-01", "-l", "requests"),
                ],
                cwd=tmp_path,
                env=isolated_env(tmp_path),
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert history.returncode == 0, history.stderr
            after = _samples(db)
            assert daemon.stop(timeout=90) == 0, daemon.log()
            log = daemon.log()
    assert after > before, log  # the daemon kept writing while the reports read
    conn = sqlite3.connect(db)
    try:  # every series' latest forecast is stored (the last ones when the daemon stopped)
        series, forecasts, newer = conn.execute(
            "SELECT (SELECT count(*) FROM series), (SELECT count(*) FROM series_forecast), "
            "(SELECT count(*) FROM series_forecast AS f JOIN series AS s ON s.id = f.series_id "
            "WHERE f.computed_at >= s.last_ts)"
        ).fetchone()
    finally:
        conn.close()
    assert series == forecasts == newer > 0, (series, forecasts, newer, log)
    assert all(isinstance(rows, list) and rows for rows in runs)
    assert {r["account"] for r in runs[-1]} == {f"acct-{i:02d}" for i in range(1, 7)}
    assert "locked" not in log and "Traceback" not in log, log
