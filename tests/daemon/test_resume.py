"""`quota-watch account resume`: the daemon's resume endpoint (auth, unknown accounts) and the
CLI talking to it over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import bcrypt
import httpx
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from quota_watch.cli.account import daemon_url
from quota_watch.cli.app import app as cli
from quota_watch.config.settings import ServerSettings
from quota_watch.daemon.auth import BasicAuth
from quota_watch.daemon.server import create_app
from quota_watch.prometheus.exposition import Snapshot
from quota_watch.testing.threaded import ThreadedServer

runner = CliRunner()


def snapshot() -> Callable[[], Awaitable[Snapshot]]:
    async def empty() -> Snapshot:
        return Snapshot(readings=[], statuses=[], accounts=[], forecasts={}, pools=[])

    return empty


class Resumer:
    """The scheduler's side: which accounts exist, which were resumed."""

    def __init__(self) -> None:
        self.resumed: list[str] = []

    def __call__(self, name: str) -> bool:
        if name != "cf-main":
            return False
        self.resumed.append(name)
        return True


@pytest.fixture
def served() -> Iterator[tuple[str, Resumer]]:
    users = {"ops": SecretStr(bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode())}
    auth = BasicAuth(lambda: users)
    resumer = Resumer()
    server = ThreadedServer(create_app(snapshot(), lambda: None, auth, resume=resumer))
    with server:
        yield f"http://127.0.0.1:{server.port}", resumer


def test_the_endpoint_needs_credentials_and_a_known_account(
    served: tuple[str, Resumer],
) -> None:
    url, resumer = served
    path = f"{url}/api/v1/accounts/cf-main/resume"
    assert httpx.post(path, timeout=30).status_code == 401
    assert httpx.get(path, auth=("ops", "pw"), timeout=30).status_code == 405
    assert resumer.resumed == []
    ok = httpx.post(path, auth=("ops", "pw"), timeout=30)
    assert ok.status_code == 200 and ok.json() == {"account": "cf-main", "resumed": True}
    missing = httpx.post(f"{url}/api/v1/accounts/nope/resume", auth=("ops", "pw"), timeout=30)
    assert missing.status_code == 404
    assert resumer.resumed == ["cf-main"]


def test_the_cli_resumes_through_the_daemon(
    served: tuple[str, Resumer], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, resumer = served
    refused = runner.invoke(cli, ["account", "resume", "cf-main", "--url", url])
    assert refused.exit_code == 1 and "wants credentials" in refused.output
    monkeypatch.setenv("QUOTA_WATCH_PASSWORD", "pw")
    ok = runner.invoke(cli, ["account", "resume", "cf-main", "--url", url, "--user", "ops"])
    assert ok.exit_code == 0, ok.output
    assert "account cf-main: polling it now" in ok.output
    unknown = runner.invoke(cli, ["account", "resume", "nope", "--url", url, "--user", "ops"])
    assert unknown.exit_code == 1 and "polls no account 'nope'" in unknown.output
    assert resumer.resumed == ["cf-main"]


def test_an_unreachable_daemon_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    result = runner.invoke(cli, ["account", "resume", "x", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "cannot reach the daemon at http://127.0.0.1:9" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("listen", "tls", "url"),
    [
        ("127.0.0.1:9877", False, "http://127.0.0.1:9877"),
        ("0.0.0.0:9877", False, "http://127.0.0.1:9877"),
        ("[::]:9877", False, "http://[::1]:9877"),
        ("vm.example:443", True, "https://vm.example:443"),
    ],
)
def test_the_default_url_follows_the_listen_address(listen: str, tls: bool, url: str) -> None:
    server = ServerSettings.model_construct(
        listen=listen, tls_cert_file=Path("c.pem") if tls else None
    )
    assert daemon_url(server) == url
