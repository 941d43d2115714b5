"""Apprise delivery against real loopback receivers: a JSON webhook and an SMTP server."""

from __future__ import annotations

import email
import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from quota_watch.notify.config import NotifierSettings, check_notifiers
from quota_watch.notify.deliver import scrub, send, validate_url
from quota_watch.notify.templates import render
from tests.support.factories import make_alert


@dataclass
class Receiver:
    """A webhook endpoint on loopback; answers `status` and records every request."""

    port: int
    status: int = 200
    requests: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            state.requests.append(
                (self.path, dict(self.headers), json.loads(self.rfile.read(length)))
            )
            self.send_response(state.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_json_success(receiver: Receiver) -> None:
    url = f"json://127.0.0.1:{receiver.port}/hooks/quota"
    ok, error = await send(
        url, "[CRITICAL] title", "**body** text", "markdown", notify_type="failure"
    )
    assert (ok, error) == (True, None)
    ((path, headers, payload),) = receiver.requests
    assert path == "/hooks/quota"
    assert headers["Content-Type"] == "application/json"
    assert payload["title"] == "[CRITICAL] title"
    assert payload["message"] == "**body** text"
    assert payload["type"] == "failure"


async def test_json_http_500_is_a_failure_without_secrets(receiver: Receiver) -> None:
    receiver.status = 500
    url = f"json://hookuser:Pa55w0rd-xyz@127.0.0.1:{receiver.port}/hooks/tok3n-abcdef"
    ok, error = await send(url, "title", "body", "text")
    assert ok is False
    assert error is not None and "500" in error
    for secret in ("Pa55w0rd-xyz", "tok3n-abcdef", "hookuser", url):
        assert secret not in error
    assert len(receiver.requests) == 1  # it did reach the server


async def test_connection_refused_is_a_failure() -> None:
    url = f"json://127.0.0.1:{free_port()}/hooks/tok3n-abcdef"
    ok, error = await send(url, "title", "body", "text")
    assert ok is False
    assert error is not None and "connection" in error.lower()
    assert "tok3n-abcdef" not in error


async def test_unusable_url_is_a_failure_not_an_exception() -> None:
    ok, error = await send("nosuchscheme://s3cr3t-t0ken", "title", "body", "text")
    assert ok is False
    assert error is not None and "s3cr3t-t0ken" not in error


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_apprise_and_urllib3_records_never_reach_application_logs(
    receiver: Receiver,
) -> None:
    receiver.status = 500
    root = logging.getLogger()
    handler, level = _Collect(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        url = f"json://hookuser:Pa55w0rd-xyz@127.0.0.1:{receiver.port}/hooks/tok3n-abcdef"
        assert (await send(url, "title", "body", "text"))[0] is False
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    assert receiver.requests
    assert [r.name for r in handler.records if r.name.startswith(("apprise", "urllib3"))] == []
    text = "\n".join(r.getMessage() for r in handler.records)
    assert "Pa55w0rd-xyz" not in text and "tok3n-abcdef" not in text


# --- SMTP -----------------------------------------------------------------------------------------


@dataclass
class Mailbox:
    port: int
    messages: list[tuple[str, list[str], Message]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)


@pytest.fixture
def smtp_server() -> Iterator[Mailbox]:
    box = Mailbox(port=free_port())

    class Handler:
        async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
            content = envelope.content
            raw = content if isinstance(content, bytes) else str(content).encode()
            box.messages.append(
                (str(envelope.mail_from), list(envelope.rcpt_tos), email.message_from_bytes(raw))
            )
            return "250 OK"

    def authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == b"alice"
            and data.password == b"s3cret-pw"
        )
        if ok:
            box.logins.append("alice")
        return AuthResult(success=ok)

    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=box.port,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    yield box
    controller.stop()


def _plain_part(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no text/plain part")


@pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")
async def test_plain_smtp_on_loopback_with_login(smtp_server: Mailbox) -> None:
    url = (
        f"mailto://alice:s3cret-pw@127.0.0.1:{smtp_server.port}"
        "?from=alerts@example.com&to=ops@example.com"
    )
    assert validate_url(url) is None
    body = "Firing: cloudflare/cf-main workers_requests at 104% of 100k.\n\nAction: renew it."
    ok, error = await send(url, "[CRITICAL] cf-main at 104%", body, "text")
    assert (ok, error) == (True, None)
    assert smtp_server.logins == ["alice"]
    ((sender, recipients, message),) = smtp_server.messages
    assert (sender, recipients) == ("alerts@example.com", ["ops@example.com"])
    assert message["Subject"] == "[CRITICAL] cf-main at 104%"
    text = _plain_part(message)
    assert "Firing: cloudflare/cf-main workers_requests at 104% of 100k." in text
    assert "Action: renew it." in text


async def test_plain_smtp_without_login(smtp_server: Mailbox) -> None:
    url = f"mailto://127.0.0.1:{smtp_server.port}?from=alerts@example.com&to=ops@example.com"
    ok, _ = await send(url, "subject line", "**bold** body", "markdown")
    assert ok
    ((_, _, message),) = smtp_server.messages
    assert message["Subject"] == "subject line"
    assert "bold body" in _plain_part(message)
    assert smtp_server.logins == []


def _part(message: Message, content_type: str) -> str:
    for part in message.walk():
        if part.get_content_type() == content_type:
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError(f"no {content_type} part")


async def test_a_markdown_alert_reads_cleanly_in_the_mails_text_part(
    smtp_server: Mailbox,
) -> None:
    now = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    title, text, markdown = render("firing", make_alert(now), now, resets_at=None)
    url = f"mailto://127.0.0.1:{smtp_server.port}?from=alerts@example.com&to=ops@example.com"
    ok, error = await send(url, title, markdown, "markdown")
    assert (ok, error) == (True, None)
    ((_, _, message),) = smtp_server.messages
    plain = _part(message, "text/plain").replace("\r\n", "\n").strip()
    html = _part(message, "text/html")

    # Line for line the plain-text rendering (labels unpadded, code without backticks): one line
    # per field, no blank line between them, "(see quota-watch plan)" kept in its sentence.
    def lines(body: str) -> list[str]:
        return [" ".join(line.split()) for line in body.splitlines()]

    assert lines(plain) == lines(text.replace("`", ""))
    assert "quota-watch plan" in plain
    assert "<strong>" in html and '<span style="font-family:monospace">' in html


async def test_smtp_server_down_is_a_failure() -> None:
    url = f"mailto://alice:s3cret-pw@127.0.0.1:{free_port()}?from=a@example.com&to=b@example.com"
    ok, error = await send(url, "subject", "body", "text")
    assert ok is False
    assert error is not None and "s3cret-pw" not in error


# --- URL validation and scrubbing -----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "json://127.0.0.1:8080/hook",
        "mailto://alice:pw@127.0.0.1:2525?from=a@example.com&to=b@example.com",
        "ntfy://ntfy.example.com/alerts",
        "discord://1234567890/webhooktoken",
    ],
)
def test_validate_accepts_usable_urls(url: str) -> None:
    assert validate_url(url) is None


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("nosuchscheme://s3cr3t-t0ken@host", "s3cr3t-t0ken"),
        ("mailto://alice:hunter2-pw@?from=", "hunter2-pw"),
        ("json://", None),
        ("   ", None),
    ],
)
def test_validate_rejects_without_showing_secrets(url: str, secret: str | None) -> None:
    error = validate_url(url)
    assert error
    if secret is not None:
        assert secret not in error


def test_check_notifiers_names_the_toml_path() -> None:
    notifiers = [
        NotifierSettings.model_validate({"url": "json://127.0.0.1/a", "name": "ops"}),
        NotifierSettings.model_validate({"url": "nosuchscheme://t0ken-123456"}),
        NotifierSettings.model_validate({"url": "json://127.0.0.1/b", "name": "ops"}),
    ]
    errors = check_notifiers(notifiers)
    assert len(errors) == 2
    assert errors[0].startswith("notifiers[1].url: ")
    assert "t0ken-123456" not in errors[0]
    assert errors[1] == "notifiers[2].name: 'ops' is already used by notifiers[0]"


def test_scrub_masks_credentials_paths_and_query_values_but_keeps_hosts() -> None:
    url = "json://bob:hunter22@hooks.example.com:8443/in/abc123token?token=qqq999&format=text"
    text = (
        f"failed {url}; user bob pass hunter22 path abc123token q qqq999 "
        "at hooks.example.com:8443 as text; bobcat is a word"
    )
    scrubbed = scrub(text, url)
    for secret in (url, "hunter22", "abc123token", "qqq999", " bob "):
        assert secret not in scrubbed
    assert "hooks.example.com:8443" in scrubbed
    assert "as text" in scrubbed
    assert "bobcat" in scrubbed  # short secrets are only masked as whole words


def test_scrub_masks_token_shaped_hosts() -> None:
    url = "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654"
    scrubbed = scrub("Telegram bot 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw failed", url)
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in scrubbed


def test_scrub_covers_every_url_of_a_multi_url_string() -> None:
    url = "json://127.0.0.1/hook, mailto://alice:hunter22-pw@mail.example.com"
    assert "hunter22-pw" not in scrub("login failed for hunter22-pw at mail.example.com", url)
