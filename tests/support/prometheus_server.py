"""A real Prometheus server for tests: Debian's /usr/bin/prometheus on a free loopback port."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest

from tests.support.daemon_proc import free_port
from tests.support.receivers import LoopbackHTTPServer

TIMEOUT = 30.0


def prometheus_binary() -> str:
    """Path of the prometheus server; skip without it (fail when CI says it must be there)."""
    path = shutil.which("prometheus")
    if path is None:
        if os.environ.get("QUOTA_WATCH_REQUIRE_PROMTOOL"):
            pytest.fail("prometheus not found but QUOTA_WATCH_REQUIRE_PROMTOOL is set")
        pytest.skip("prometheus not installed (Debian package: prometheus)")
    return path


class Prometheus:
    """/usr/bin/prometheus on a free loopback port, its data in tmp_path."""

    def __init__(
        self,
        tmp_path: Path,
        target: str,
        rule_files: list[Path],
        job_name: str = "quota-watch",
        basic_auth: tuple[str, str] | None = None,
    ) -> None:
        """With `basic_auth` (user, password) the server requires it (--web.config.file with a
        bcrypt hash), and this object's own client sends it."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(p) for p in rule_files],
            "scrape_configs": [
                {
                    "job_name": job_name,
                    "scrape_interval": "1s",
                    "scrape_timeout": "1s",
                    "static_configs": [{"targets": [target]}],
                }
            ],
        }
        config_path = tmp_path / "prometheus.yml"
        config_path.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
        web_args: list[str] = []
        if basic_auth is not None:
            user, password = basic_auth
            hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
            web_config = tmp_path / "web.yml"
            web_config.write_text(json.dumps({"basic_auth_users": {user: hashed}}))
            web_args.append(f"--web.config.file={web_config}")
        self.log_path = tmp_path / "prometheus.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [
                prometheus_binary(),
                f"--config.file={config_path}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
                *web_args,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
        self.client = httpx.Client(base_url=self.url, timeout=10, auth=basic_auth)

    def close(self) -> None:
        """Stop the server (TERM, then KILL) and close the log."""
        self.client.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()

    def log(self) -> str:
        """What the server printed."""
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def api(self, path: str, **params: str) -> Any:
        """GET an /api/v1 endpoint; its `data` (fails on an error status)."""
        response = self.client.get(f"/api/v1/{path}", params=params)
        body = response.json()
        assert body.get("status") == "success", (path, params, body)
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's result (a vector or a scalar as a one-element list)."""
        data = self.api("query", query=expr)
        if data["resultType"] in ("scalar", "string"):
            return [{"value": data["result"]}]
        return list(data["result"])

    def wait_ready(self) -> None:
        """Until /-/ready answers 200."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"prometheus exited:\n{self.log()}")
            try:
                if self.client.get("/-/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"prometheus not ready:\n{self.log()}")


class TextExporter(LoopbackHTTPServer):
    """A loopback exporter answering GET /metrics with `text` (the exposition format)."""

    def __init__(self, text: str) -> None:
        body = text.encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200 if self.path == "/metrics" else 404)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._serve(Handler)

    @property
    def target(self) -> str:
        """host:port for a scrape config."""
        return f"127.0.0.1:{self.port}"
