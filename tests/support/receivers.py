"""Real loopback receivers for alert tests: an SMTP server (aiosmtpd) and an HTTP JSON sink."""

from __future__ import annotations

import email
import json
import socket
import threading
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class _MailSink:
    messages: list[Message] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        with self.lock:
            self.messages.append(email.message_from_bytes(raw))
        return "250 Message accepted for delivery"


class SmtpReceiver:
    """An SMTP server on 127.0.0.1 that keeps every message it accepts."""

    def __init__(self) -> None:
        self.sink = _MailSink()
        with socket.socket() as probe:  # aiosmtpd's readiness check cannot use port 0
            probe.bind(("127.0.0.1", 0))
            self._port = int(probe.getsockname()[1])
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self._port)

    def __enter__(self) -> Self:
        self.controller.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.controller.stop()

    @property
    def port(self) -> int:
        """The bound port."""
        return self._port

    def subjects(self) -> list[str]:
        """Subjects of the messages received so far."""
        with self.sink.lock:
            return [str(m["Subject"]) for m in self.sink.messages]


class LoopbackHTTPServer:
    """A stdlib HTTP server on 127.0.0.1 (port 0) serving `handler` from a thread while entered."""

    def _serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self.server.server_address[1])


class HttpReceiver(LoopbackHTTPServer):
    """An HTTP server on 127.0.0.1 keeping each JSON POST; answers `status` (changeable live)."""

    def __init__(self) -> None:
        self.status = 200
        self.posts: list[dict[str, Any]] = []
        self.refused = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver.lock:
                    status = receiver.status
                    if status < 300:
                        receiver.posts.append(json.loads(body or b"{}"))
                    else:
                        receiver.refused += 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._serve(Handler)

    def titles(self) -> list[str]:
        """Titles of the JSON notifications accepted so far."""
        with self.lock:
            return [str(p.get("title", "")) for p in self.posts]
