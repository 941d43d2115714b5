"""The HTTP server under abuse: malformed credentials, password floods, idle connection floods."""

from __future__ import annotations

import asyncio
import base64
import resource
import socket
import sqlite3
import time
from pathlib import Path

import bcrypt
import httpx
import pytest
from pydantic import SecretStr

from quota_watch.daemon import auth as webauth
from quota_watch.daemon.auth import BasicAuth
from tests.support.daemon_proc import DaemonProcess, free_port

PASSWORD = "correct horse"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture(scope="module")
def hashed() -> str:
    return bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()


class _CountingCheck:
    def __init__(self) -> None:
        self.calls: list[bytes] = []

    def __call__(self, password: bytes, hashed: bytes) -> bool:
        self.calls.append(hashed)
        return bcrypt.checkpw(password, hashed)


def test_malformed_basic_headers_are_refused_not_errors(hashed: str) -> None:
    auth = BasicAuth(lambda: {"alice": SecretStr(hashed)})
    for header in (
        "Basic é",  # non-ASCII token: ValueError in b64decode
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),  # not UTF-8
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic",
        "Basic ====",
    ):
        assert asyncio.run(auth.allows(header, "10.0.0.1")) is False


def test_failed_clients_are_refused_without_bcrypt(
    hashed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = _CountingCheck()
    monkeypatch.setattr(webauth, "_checkpw", spy)
    now = [0.0]
    auth = BasicAuth(lambda: {"alice": SecretStr(hashed)}, clock=lambda: now[0])

    async def attempts() -> list[bool]:
        results = []
        for _ in range(webauth.MAX_FAILURES + 5):
            results.append(await auth.allows(basic("alice", "wrong"), "10.0.0.1"))
        results.append(await auth.allows(basic("alice", PASSWORD), "10.0.0.2"))  # another client
        return results

    results = asyncio.run(attempts())
    assert not any(results[:-1]) and results[-1] is True
    assert len(spy.calls) == webauth.MAX_FAILURES + 1  # the blocked attempts cost nothing
    now[0] += webauth.FAILURE_WINDOW + 1
    assert asyncio.run(auth.allows(basic("alice", PASSWORD), "10.0.0.1")) is True


def test_unknown_users_are_checked_against_the_highest_cost(
    hashed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = _CountingCheck()
    monkeypatch.setattr(webauth, "_checkpw", spy)
    costly = bcrypt.hashpw(b"other", bcrypt.gensalt(6)).decode()
    users = {"alice": SecretStr(hashed), "bob": SecretStr(costly)}
    auth = BasicAuth(lambda: users)
    assert asyncio.run(auth.allows(basic("mallory", PASSWORD), "10.0.0.3")) is False
    (dummy,) = spy.calls
    assert dummy[4:6] == b"06" and dummy not in (hashed.encode(), costly.encode())


def test_a_flood_of_waiting_checks_is_cut_short(hashed: str) -> None:
    auth = BasicAuth(lambda: {"alice": SecretStr(hashed)})

    async def flood() -> list[bool]:
        return await asyncio.gather(
            *(auth.allows(basic("alice", "wrong"), f"10.1.0.{i}") for i in range(40))
        )

    assert not any(asyncio.run(flood()))


def _raise_own_fd_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < wanted:
        pytest.skip(f"cannot open {wanted} files in this process")


def _runs(db: Path) -> int:
    """Stored runs; 0 while the daemon has not created the store yet."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("SELECT count(*) FROM collector_run").fetchone()[0])
    except sqlite3.OperationalError:  # the schema is being created
        return 0


@pytest.mark.slow
def test_idle_connection_flood_leaves_polling_and_scrapes_working(
    tmp_path: Path, hashed: str
) -> None:
    _raise_own_fd_limit(1400)
    config = tmp_path / "quota-watch.toml"
    db = tmp_path / "qw.db"
    config.write_text(
        f'[store]\nurl = "sqlite:///{db}"\n'
        f'[server.basic_auth_users]\nalice = "{hashed}"\n'
        '[[accounts]]\nname = "vm"\ncollector = "host"\ninterval = "1s"\n'
    )
    with DaemonProcess(tmp_path, free_port(), config=config) as daemon:
        deadline = time.monotonic() + 60
        while _runs(db) < 1:
            daemon.check_alive()
            assert time.monotonic() < deadline, daemon.log()
            time.sleep(0.2)
        idle: list[socket.socket] = []
        try:
            for _ in range(1100):
                idle.append(socket.create_connection(("127.0.0.1", daemon.port), timeout=30))
            before = _runs(db)
            response = httpx.get(daemon.url + "/metrics", auth=("alice", PASSWORD), timeout=30)
            assert response.status_code == 200
            assert "quota_watch_" in response.text
            deadline = time.monotonic() + 60
            while _runs(db) < before + 3:  # polling goes on while the flood is held
                daemon.check_alive()
                assert time.monotonic() < deadline, daemon.log()
                time.sleep(0.2)
            # the idle connections are closed by the server (no request head in time)
            probe = idle[0]
            probe.settimeout(60)
            assert probe.recv(1) == b""
            bad = httpx.get(
                daemon.url + "/metrics",
                headers={b"Authorization": "Basic \u00e9".encode("latin-1")},
                timeout=30,
            )
            assert bad.status_code == 401
        finally:
            for sock in idle:
                sock.close()
        assert daemon.stop() == 0
        assert "Traceback" not in daemon.log()
