"""deploy/alertmanager/alertmanager.yml: amtool accepts it, and a real Alertmanager (Debian's
prometheus-alertmanager) fed the alerts our rules raise mutes them as the engine does: critical
over warning, threshold over forecast, auth over stale, per series."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from quota_watch.engine.state import ALERTNAMES
from quota_watch.prometheus.alertmanager import ALERTMANAGER_FILE, inhibit_rules
from tests.support.daemon_proc import free_port
from tests.support.promtool import alertmanager, amtool

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "alertmanager" / ALERTMANAGER_FILE


def test_amtool_accepts_the_config() -> None:
    proc = subprocess.run(
        [amtool(), "check-config", str(CONFIG)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 inhibit rules" in proc.stdout


def test_the_committed_config_holds_the_inhibitions() -> None:
    document = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    assert document["inhibit_rules"] == inhibit_rules()
    named = " ".join(m for rule in inhibit_rules() for m in rule["target_matchers"])
    for kind in (("threshold", "warning"), ("forecast", "warning"), ("stale", "warning")):
        assert ALERTNAMES[kind] in named


class Alertmanager:
    """prometheus-alertmanager on a free loopback port, state in tmp_path, no clustering."""

    def __init__(self, tmp_path: Path) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log_path = tmp_path / "alertmanager.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [
                alertmanager(),
                f"--config.file={CONFIG}",
                f"--storage.path={tmp_path / 'data'}",
                f"--web.listen-address={self.url.removeprefix('http://')}",
                "--cluster.listen-address=",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def api(self, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/api/v2/{path}", data=data, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read()
        return json.loads(text) if text else None

    def wait_ready(self, deadline: float = 60.0) -> None:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(f"alertmanager exited:\n{self.log_path.read_text()}")
            try:
                self.api("status")
                return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"alertmanager not ready:\n{self.log_path.read_text()}")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[Alertmanager]:
    server = Alertmanager(tmp_path)
    try:
        server.wait_ready()
        yield server
    finally:
        server.close()


def _alert(name: str, severity: str, **labels: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "labels": {"alertname": name, "severity": severity, **labels},
        "annotations": {"summary": name},
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(hours=1)).isoformat(),
    }


@pytest.mark.slow
def test_a_real_alertmanager_keeps_one_voice_per_limit(manager: Alertmanager) -> None:
    series = {"provider": "cloudflare", "account": "cf-1", "limit": "workers_requests"}
    other = {**series, "account": "cf-2"}
    manager.api(
        "alerts",
        [
            _alert("QuotaFullyUsed", "critical", **series),
            _alert("QuotaAlmostFull", "warning", **series),
            _alert("QuotaPredictedFull", "warning", **series),
            # Another account's forecast is not muted by cf-1's critical.
            _alert("QuotaPredictedFull", "warning", **other),
            _alert("QuotaCollectorAuthFailed", "critical", provider="github", account="gh"),
            _alert("QuotaDataStale", "warning", provider="github", account="gh"),
        ],
    )
    expected = {
        ("QuotaFullyUsed", "cf-1"): "active",
        ("QuotaAlmostFull", "cf-1"): "suppressed",
        ("QuotaPredictedFull", "cf-1"): "suppressed",
        ("QuotaPredictedFull", "cf-2"): "active",
        ("QuotaCollectorAuthFailed", "gh"): "active",
        ("QuotaDataStale", "gh"): "suppressed",
    }
    state: dict[tuple[str, str], str] = {}
    end = time.monotonic() + 60
    while time.monotonic() < end:
        state = {
            (a["labels"]["alertname"], a["labels"]["account"]): a["status"]["state"]
            for a in manager.api("alerts")
        }
        if state == expected:
            break
        time.sleep(0.5)
    assert state == expected


@pytest.mark.slow
def test_without_the_critical_the_warning_mutes_only_the_forecast(
    manager: Alertmanager,
) -> None:
    series = {"provider": "github", "account": "gh", "limit": "actions_minutes"}
    manager.api(
        "alerts",
        [
            _alert("QuotaAlmostFull", "warning", **series),
            _alert("QuotaPredictedFull", "warning", **series),
        ],
    )
    expected = {"QuotaAlmostFull": "active", "QuotaPredictedFull": "suppressed"}
    state: dict[str, str] = {}
    end = time.monotonic() + 60
    while time.monotonic() < end:
        state = {a["labels"]["alertname"]: a["status"]["state"] for a in manager.api("alerts")}
        if state == expected:
            break
        time.sleep(0.5)
    assert state == expected
