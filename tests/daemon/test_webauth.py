"""Basic auth and TLS for /metrics: settings checks, the bcrypt cache, and the real daemon."""

from __future__ import annotations

import asyncio
import base64
import ssl
import subprocess
import sys
import time
from pathlib import Path

import bcrypt
import httpx
import pytest
from pydantic import SecretStr

from quota_watch.config.errors import ConfigError
from quota_watch.config.load import validate_config
from quota_watch.daemon import auth as webauth
from quota_watch.daemon.auth import BasicAuth, hash_password, is_loopback
from tests.support.daemon_proc import DaemonProcess, free_port, isolated_env
from tests.support.tlscerts import Pki, make_pki

PASSWORD = "s3cret pass:with colon"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def hashed() -> str:
    return bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def server_errors(server: dict[str, object]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        validate_config({"server": server}, Path("qw.toml"), {})
    return caught.value.errors


# --- settings ----------------------------------------------------------------------------------


def test_bad_hash_names_the_toml_path_and_hides_the_value() -> None:
    (line,) = server_errors({"basic_auth_users": {"alice": "plaintext-password"}})
    assert line.startswith("qw.toml: server.basic_auth_users.alice: not a bcrypt hash")
    assert "plaintext-password" not in line


def test_user_names_cannot_hold_a_colon(hashed: str) -> None:
    (line,) = server_errors({"basic_auth_users": {"a:b": hashed}})
    assert line.startswith("qw.toml: server.basic_auth_users: user name 'a:b' contains ':'")


def test_htpasswd_2y_hashes_are_accepted(hashed: str) -> None:
    htpasswd = hashed.replace("$2b$", "$2y$", 1)
    config = validate_config({"server": {"basic_auth_users": {"bob": htpasswd}}}, None, {})
    users = config.settings.server.basic_auth_users or {}
    assert users["bob"].get_secret_value() == htpasswd


def test_missing_cert_file_names_the_toml_path(tmp_path: Path, pki: Pki) -> None:
    missing = tmp_path / "nope.crt"
    lines = server_errors({"tls_cert_file": str(missing), "tls_key_file": str(pki.server_key)})
    assert lines == [
        "qw.toml: server.tls_cert_file: cannot read the file: No such file or directory"
    ]


def test_key_must_match_and_come_with_the_cert(pki: Pki) -> None:
    assert server_errors({"tls_cert_file": str(pki.server_cert)}) == [
        "qw.toml: server.tls_key_file: required with tls_cert_file"
    ]
    (line,) = server_errors(
        {"tls_cert_file": str(pki.server_cert), "tls_key_file": str(pki.client_key)}
    )
    assert line.startswith("qw.toml: server.tls_key_file: not the unencrypted PEM private key")
    (line,) = server_errors({"tls_client_ca_file": str(pki.ca_cert)})
    assert line.startswith("qw.toml: server.tls_client_ca_file: client certificates need TLS")


def test_config_check_cli_reports_the_path(tmp_path: Path) -> None:
    config = tmp_path / "qw.toml"
    config.write_text(f'[server]\ntls_cert_file = "{tmp_path / "x.crt"}"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "quota_watch", "config", "check", "-c", str(config)],
        env=isolated_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "server.tls_cert_file: cannot read the file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_hash_password_command_reads_stdin(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "quota_watch", "config", "hash-password", "--cost", "10"],
        input=PASSWORD + "\n",
        env=isolated_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    digest = proc.stdout.strip()
    assert digest.startswith("$2b$10$")
    assert bcrypt.checkpw(PASSWORD.encode(), digest.encode())


def test_hash_password_refuses_what_bcrypt_cannot_hash() -> None:
    with pytest.raises(ValueError, match="empty"):
        hash_password("")
    with pytest.raises(ValueError, match="72 bytes"):
        hash_password("x" * 73)


def test_loopback_hosts() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("vm.lan")


# --- the bcrypt cache --------------------------------------------------------------------------


def test_successes_are_cached_failures_are_not(
    hashed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[bytes] = []
    real = webauth._checkpw

    def counting(password: bytes, digest: bytes) -> bool:
        calls.append(password)
        return real(password, digest)

    monkeypatch.setattr(webauth, "_checkpw", counting)
    users = {"alice": SecretStr(hashed)}
    auth = BasicAuth(lambda: users)

    async def scenario() -> list[bool]:
        return [
            await auth.allows(basic("alice", PASSWORD)),
            await auth.allows(basic("alice", PASSWORD)),
            await auth.allows(basic("alice", "wrong")),
            await auth.allows(basic("alice", "wrong")),
            await auth.allows(basic("mallory", PASSWORD)),
            await auth.allows(None),
            await auth.allows("Bearer abc"),
            await auth.allows("Basic !!!"),
        ]

    assert asyncio.run(scenario()) == [True, True, False, False, False, False, False, False]
    # one check for the first success, one per failure; none for the cached success
    assert len(calls) == 4
    # a new hash for alice (SIGHUP reload) is checked afresh, not served from the cache
    users["alice"] = SecretStr(bcrypt.hashpw(b"other", bcrypt.gensalt(4)).decode())
    assert asyncio.run(auth.allows(basic("alice", PASSWORD))) is False


def test_no_users_means_open() -> None:
    assert asyncio.run(BasicAuth(dict).allows(None)) is True


# --- the real daemon over HTTPS ----------------------------------------------------------------


def _wait_https(client: httpx.Client, url: str, daemon: DaemonProcess) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if daemon.proc.poll() is not None:
            raise AssertionError(f"daemon exited:\n{daemon.log()}")
        try:
            client.get(url + "/healthz")
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"daemon not serving HTTPS:\n{daemon.log()}")


@pytest.mark.slow
def test_daemon_serves_metrics_over_tls_with_basic_auth(
    tmp_path: Path, pki: Pki, hashed: str
) -> None:
    config = tmp_path / "qw.toml"
    config.write_text(
        f'[server]\ntls_cert_file = "{pki.server_cert}"\ntls_key_file = "{pki.server_key}"\n'
        f'[server.basic_auth_users]\nprometheus = "{hashed}"\n'
        '[[accounts]]\nname = "host"\ncollector = "host"\ninterval = "1h"\n'
    )
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    trust = ssl.create_default_context(cafile=str(pki.ca_cert))
    with DaemonProcess(tmp_path, port, config) as daemon, httpx.Client(verify=trust) as client:
        _wait_https(client, url, daemon)
        assert client.get(url + "/healthz").status_code == 200  # open for liveness probes
        for path in ("/metrics", "/readyz"):
            anonymous = client.get(url + path)
            assert anonymous.status_code == 401
            assert anonymous.headers["www-authenticate"] == 'Basic realm="quota-watch"'
            assert "quota_watch_" not in anonymous.text
            wrong = client.get(url + path, headers={"Authorization": basic("prometheus", "x")})
            assert wrong.status_code == 401
        good = {"Authorization": basic("prometheus", PASSWORD)}
        metrics = client.get(url + "/metrics", headers=good)
        assert metrics.status_code == 200 and "quota_watch_build_info" in metrics.text
        assert client.get(url + "/readyz", headers=good).status_code in (200, 503)
        with pytest.raises(httpx.TransportError):  # plain HTTP on the TLS port
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        with pytest.raises(httpx.ConnectError):  # a client that does not trust our CA
            httpx.get(url + "/healthz", timeout=5)
        health = subprocess.run(  # the container HEALTHCHECK falls back to HTTPS
            [sys.executable, str(ROOT / "deploy" / "healthcheck.py")],
            env={**isolated_env(tmp_path), "QUOTA_WATCH_SERVER__LISTEN": f"0.0.0.0:{port}"},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert health.returncode == 0, health.stderr
        assert daemon.stop() == 0
        log = daemon.log()
    assert f"metrics on https://127.0.0.1:{port}/metrics (basic auth)" in log
    assert PASSWORD not in log and hashed not in log
    assert "without basic auth" not in log
    assert "Traceback" not in log


@pytest.mark.slow
def test_daemon_requires_client_certificates_when_a_client_ca_is_set(
    tmp_path: Path, pki: Pki
) -> None:
    config = tmp_path / "qw.toml"
    config.write_text(
        f'[server]\ntls_cert_file = "{pki.server_cert}"\ntls_key_file = "{pki.server_key}"\n'
        f'tls_client_ca_file = "{pki.ca_cert}"\n'
        '[[accounts]]\nname = "host"\ncollector = "host"\ninterval = "1h"\n'
    )
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    with_cert = ssl.create_default_context(cafile=str(pki.ca_cert))
    with_cert.load_cert_chain(pki.client_cert, pki.client_key)
    without_cert = ssl.create_default_context(cafile=str(pki.ca_cert))
    with DaemonProcess(tmp_path, port, config) as daemon, httpx.Client(verify=with_cert) as ok:
        _wait_https(ok, url, daemon)
        assert ok.get(url + "/metrics").status_code == 200
        with pytest.raises(httpx.TransportError):
            httpx.get(url + "/metrics", verify=without_cert, timeout=5)
        assert daemon.stop() == 0


def test_config_show_never_prints_the_hashes(hashed: str) -> None:
    from quota_watch.config.load import redacted

    config = validate_config({"server": {"basic_auth_users": {"alice": hashed}}}, None, {})
    shown = redacted(config)["server"]["basic_auth_users"]
    assert shown == {"alice": "**********"}
