"""Run the real daemon as a subprocess for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx


def free_port() -> int:
    """A TCP port on loopback that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def isolated_env(tmp_path: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment with user config/data directories inside `tmp_path`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTA_WATCH_")}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env.update(extra or {})
    return env


class DaemonProcess:
    """`quota-watch run` in a subprocess, with helpers to scrape it and signal it."""

    def __init__(
        self,
        tmp_path: Path,
        port: int,
        config: Path | None = None,
        env: Mapping[str, str] | None = None,
        *,
        base_env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
    ) -> None:
        """Start the daemon, listening on `port`, in the environment `base_env` (by default
        `isolated_env(tmp_path)`) plus `env`, with `args` after `run`."""
        self.port = port
        self.log_path = tmp_path / f"daemon-{port}.log"
        command = [sys.executable, "-m", "quota_watch", "run", *args]
        if config is not None:
            command += ["--config", str(config)]
        full_env = dict(isolated_env(tmp_path) if base_env is None else base_env)
        full_env.update(env or {})
        full_env["QUOTA_WATCH_SERVER__LISTEN"] = f"127.0.0.1:{port}"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            command, cwd=tmp_path, env=full_env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()

    @property
    def url(self) -> str:
        """Base URL of the daemon's HTTP server."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The daemon's process id."""
        return self.proc.pid

    def log(self) -> str:
        """Everything the daemon printed so far."""
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def check_alive(self) -> None:
        """Fail with the daemon's log if it has exited."""
        if self.proc.poll() is not None:
            raise AssertionError(f"daemon exited with {self.proc.returncode}:\n{self.log()}")

    def get(self, path: str) -> httpx.Response | None:
        """GET `path`, or None while the server is not answering."""
        try:
            return httpx.get(self.url + path, timeout=5)
        except httpx.HTTPError:
            return None

    def wait_for(self, predicate_text: str, path: str = "/metrics", timeout: float = 60.0) -> str:
        """Poll `path` until its body contains `predicate_text`; return the body."""
        deadline = time.monotonic() + timeout
        body = ""
        while time.monotonic() < deadline:
            self.check_alive()
            response = self.get(path)
            if response is not None and response.status_code == 200:
                body = response.text
                if predicate_text in body:
                    return body
            time.sleep(0.1)
        raise AssertionError(
            f"{predicate_text!r} not in {path} after {timeout}s\n--- body:\n{body}\n"
            f"--- log:\n{self.log()}"
        )

    def wait_serving(self, timeout: float = 60.0) -> None:
        """Wait until /readyz answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            response = self.get("/readyz")
            if response is not None and response.status_code == 200:
                return
            time.sleep(0.1)
        raise AssertionError(f"daemon not ready after {timeout}s:\n{self.log()}")

    def signal(self, sig: signal.Signals) -> None:
        """Send `sig` to the daemon."""
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, wait, and return the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)
