"""Secrets planted in every secret-bearing option never appear in any output: `config show`,
`config check`, the daemon's debug log, /metrics, the report, the database, a backup and the
notifications it sends (the provider rejects the credentials, so errors and alerts happen)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomli_w

from tests.support.daemon_proc import DaemonProcess, free_port, isolated_env
from tests.support.faultserver import FaultServer
from tests.support.receivers import HttpReceiver

pytestmark = pytest.mark.slow

SECRETS = {
    "url_password": "PLANTEDurlpass01",
    "url_query": "PLANTEDquery02",
    "header": "PLANTEDheader03",
    "body": "PLANTEDbody04",
    "body_nested": "PLANTEDbody05",
    "heartbeat": "PLANTEDbeat06",
    "notifier": "PLANTEDnotify07",
    "env_token": "PLANTEDenv08",
    "pg_password": "PLANTEDpg09",
}


def config_document(tmp_path: Path, faults: FaultServer, hook: int) -> dict[str, object]:
    port = faults.port
    s = SECRETS
    limit = {
        "title": "Used",
        "unit": "count",
        "measure": "level",
        "period": "none",
        "scope": "account",
        "value": "used",
        "cap_path": "limit",
    }
    return {
        "store": {"url": f"sqlite:///{tmp_path / 'qw.db'}"},
        "logging": {"level": "debug"},
        "alerts": {"outbox_interval": "1s", "retry_initial": "1s", "retry_max": "2s"},
        "heartbeat": {
            "url": f"http://127.0.0.1:{port}/ping/{s['heartbeat']}",
            "interval": "10s",
            "timeout": "5s",
        },
        "accounts": [
            {
                "name": "rejected",
                "collector": "http_json",
                "interval": "1s",
                "options": {
                    "url": f"http://user:{s['url_password']}@127.0.0.1:{port}/denied"
                    f"?api_key={s['url_query']}",
                    "method": "POST",
                    "headers": {"Authorization": "Bearer ${PLANTED_TOKEN}", "X-Key": s["header"]},
                    "body": {"key": s["body"], "nested": {"deep": s["body_nested"]}},
                    "limits": {"used": limit},
                },
            },
            {
                "name": "accepted",
                "collector": "http_json",
                "interval": "1s",
                "options": {
                    "url": f"http://127.0.0.1:{port}/ok?api_key={s['url_query']}",
                    "headers": {"Authorization": "Bearer ${PLANTED_TOKEN}"},
                    "limits": {"used": limit},
                },
            },
        ],
        "notifiers": [
            {"name": "hook", "url": f"json://127.0.0.1:{hook}/alerts?token={s['notifier']}"}
        ],
    }


def cli(tmp_path: Path, env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "quota_watch", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    return f"$ quota-watch {' '.join(args)} -> {proc.returncode}\n{proc.stdout}{proc.stderr}"


def leaks(outputs: dict[str, str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for where, text in outputs.items():
        hits = [name for name, secret in SECRETS.items() if secret in text]
        if hits:
            found[where] = hits
    return found


def test_no_planted_secret_appears_in_any_output(tmp_path: Path) -> None:
    env = isolated_env(tmp_path, {"PLANTED_TOKEN": SECRETS["env_token"]})
    with FaultServer() as faults, HttpReceiver() as hook:
        faults.routes["/denied"] = "denied"
        config = tmp_path / "quota-watch.toml"
        config.write_text(tomli_w.dumps(config_document(tmp_path, faults, hook.port)))
        outputs = {
            "config show": cli(tmp_path, env, "config", "show", "-c", str(config)),
            "config show json": cli(
                tmp_path, env, "config", "show", "-f", "json", "-c", str(config)
            ),
            "config check": cli(tmp_path, env, "config", "check", "-c", str(config)),
        }
        assert "127.0.0.1" in outputs["config show"]  # shown, minus the credentials
        with DaemonProcess(tmp_path, free_port(), config=config, base_env=env) as daemon:
            daemon.wait_serving(timeout=60)
            deadline = time.monotonic() + 90
            while not hook.posts or faults.count("/denied") < 1 or faults.count("/ok") < 2:
                daemon.check_alive()
                assert time.monotonic() < deadline, daemon.log()
                time.sleep(0.5)
            metrics = daemon.get("/metrics")
            outputs["/metrics"] = metrics.text if metrics is not None else ""
            assert 'account="accepted"' in outputs["/metrics"]
            outputs["report"] = cli(tmp_path, env, "report", "-c", str(config))
            outputs["report json"] = cli(tmp_path, env, "report", "-f", "json", "-c", str(config))
            outputs["backup"] = cli(tmp_path, env, "db", "backup", "-c", str(config), "b.db")
            assert daemon.stop(timeout=60) == 0
            outputs["daemon log"] = daemon.log()
        outputs["notifications"] = repr(hook.posts)
    with sqlite3.connect(tmp_path / "qw.db") as conn:
        outputs["database dump"] = "\n".join(conn.iterdump())
    with sqlite3.connect(tmp_path / "b.db") as conn:
        outputs["backup dump"] = "\n".join(conn.iterdump())
    assert "polling rejected failed (auth)" in outputs["daemon log"]
    assert leaks(outputs) == {}, {k: outputs[k][-3000:] for k in leaks(outputs)}


@pytest.mark.skipif(
    not os.environ.get("QUOTA_WATCH_TEST_PG_URL"), reason="needs QUOTA_WATCH_TEST_PG_URL"
)
def test_a_postgresql_query_password_is_never_logged(tmp_path: Path) -> None:
    base = os.environ["QUOTA_WATCH_TEST_PG_URL"]
    url = f"{base}{'&' if '?' in base else '?'}password={SECRETS['pg_password']}"
    env = isolated_env(tmp_path)
    config = tmp_path / "quota-watch.toml"
    config.write_text(
        tomli_w.dumps(
            {
                "store": {"url": url},
                "logging": {"level": "debug"},
                "accounts": [{"name": "vm", "collector": "host", "interval": "1s"}],
            }
        )
    )
    outputs = {
        "config show": cli(tmp_path, env, "config", "show", "-c", str(config)),
        "config check": cli(tmp_path, env, "config", "check", "-c", str(config)),
    }
    with DaemonProcess(tmp_path, free_port(), config=config, base_env=env) as daemon:
        daemon.wait_serving(timeout=60)
        assert daemon.stop() == 0
        outputs["daemon log"] = daemon.log()
    assert "store: postgresql://" in outputs["daemon log"]
    assert leaks(outputs) == {}, outputs
