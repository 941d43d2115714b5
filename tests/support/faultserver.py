"""A hostile HTTP server on loopback: bombs, drips, huge bodies, absurd headers, resets, garbage.

Each path answers with one fault; `FaultServer.routes` maps a path to a fault name and can be
changed while the server runs (an account first served `ok`, then `drip`). Raw sockets, one
thread per connection, so a drip holds only its own connection.
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import struct
import threading
import time
import zlib
from collections.abc import Callable
from functools import cache
from types import TracebackType
from typing import Any, Self

GIB = 2**30


@cache
def gzip_bomb(inflated: int = GIB) -> bytes:
    """A valid gzip stream of `inflated` zero bytes (a multiple of 1 MiB; 1 GiB -> about 1 MB).

    Built in well under a second: after a full flush a block of zeros always compresses to the
    same bytes, so one compressed block is repeated and the trailer computed for the whole.
    """
    block = bytes(2**20)
    blocks = max(1, inflated // len(block))
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    first = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    middle = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = compressor.flush()[:-8]  # the final block, without the trailer of 2 MiB
    crc = 0
    for _ in range(blocks):
        crc = zlib.crc32(block, crc)
    trailer = struct.pack("<II", crc, (blocks * len(block)) & 0xFFFFFFFF)
    return first + middle * (blocks - 1) + end + trailer


def _head(status: str, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class FaultServer:
    """The fault server on 127.0.0.1 (port 0), serving from threads while entered.

    Faults: ok (200 with `ok_body` as JSON), denied (401), drip (a byte every `drip_every`
    seconds of a declared 1000-byte body), bomb (1 GiB gzip bomb; bomb_chunked: without a
    Content-Length), huge (`huge_size` bytes of
    JSON), retry_after (429 with `Retry-After: <retry_after>`), headers (an absurdly long
    header), redirect (to /bomb), reset (TCP RST before any answer), garbage (bytes that are
    not HTTP), hang (reads the request and never answers).
    """

    def __init__(self) -> None:
        self.routes: dict[str, str] = {}
        self.ok_body: Any = {"used": 1, "limit": 10}
        self.drip_every = 2.0
        self.huge_size = 200 * 2**20
        self.retry_after = "1e300"
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self._stop = threading.Event()
        server = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                server._handle(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 128

        self.server = Server(("127.0.0.1", 0), Handler)
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
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self.server.server_address[1])

    def url(self, path: str) -> str:
        """The URL of `path` on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def count(self, path: str) -> int:
        """How many requests `path` has had."""
        with self.lock:
            return self.requests.count(path)

    def _handle(self, sock: socket.socket) -> None:
        sock.settimeout(10)
        request = b""
        try:
            while b"\r\n\r\n" not in request and len(request) < 65536:
                chunk = sock.recv(4096)
                if not chunk:
                    return
                request += chunk
        except OSError:
            return
        line = request.split(b"\r\n", 1)[0].decode("latin-1")
        path = line.split(" ")[1].split("?")[0] if line.count(" ") >= 2 else "/"
        with self.lock:
            self.requests.append(path)
        fault = self.routes.get(path, path.strip("/") or "ok")
        action: Callable[[socket.socket], None] = getattr(self, f"_{fault}", self._not_found)
        with contextlib.suppress(OSError):  # the client gave up: what most faults are for
            action(sock)

    def _send_json(self, sock: socket.socket, status: str, body: bytes) -> None:
        headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
        sock.sendall(_head(status, headers) + body)

    def _not_found(self, sock: socket.socket) -> None:
        self._send_json(sock, "404 Not Found", b"{}")

    def _ok(self, sock: socket.socket) -> None:
        self._send_json(sock, "200 OK", json.dumps(self.ok_body).encode())

    def _denied(self, sock: socket.socket) -> None:
        self._send_json(sock, "401 Unauthorized", b'{"error": "bad credentials"}')

    def _drip(self, sock: socket.socket) -> None:
        sock.sendall(
            _head("200 OK", {"Content-Type": "application/json", "Content-Length": "1000"})
        )
        while not self._stop.is_set():
            sock.sendall(b" ")
            if self._stop.wait(self.drip_every):
                return

    def _bomb(self, sock: socket.socket) -> None:
        body = gzip_bomb()
        headers = {
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "Content-Length": str(len(body)),
        }
        sock.sendall(_head("200 OK", headers) + body)

    def _bomb_chunked(self, sock: socket.socket) -> None:
        """The bomb without a Content-Length (chunked), so a reader cannot refuse it up front."""
        body = gzip_bomb()
        headers = {
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "Transfer-Encoding": "chunked",
        }
        sock.sendall(_head("200 OK", headers))
        step = 65536
        for start in range(0, len(body), step):
            piece = body[start : start + step]
            sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        sock.sendall(b"0\r\n\r\n")

    def _huge(self, sock: socket.socket) -> None:
        sock.sendall(
            _head(
                "200 OK",
                {"Content-Type": "application/json", "Content-Length": str(self.huge_size)},
            )
        )
        sock.sendall(b"[")
        row = b"0," * 32768
        sent = 1
        while sent + len(row) < self.huge_size - 2:
            sock.sendall(row)
            sent += len(row)
        sock.sendall(b"0" * (self.huge_size - sent - 1) + b"]")

    def _retry_after(self, sock: socket.socket) -> None:
        body = b'{"error": "slow down"}'
        headers = {"Retry-After": self.retry_after, "Content-Length": str(len(body))}
        sock.sendall(_head("429 Too Many Requests", headers) + body)

    def _headers(self, sock: socket.socket) -> None:
        headers = {"X-Absurd": "a" * 2**20, "Content-Length": "2"}
        sock.sendall(_head("200 OK", headers) + b"{}")

    def _redirect(self, sock: socket.socket) -> None:
        headers = {"Location": self.url("/bomb"), "Content-Length": "0"}
        sock.sendall(_head("302 Found", headers))

    def _reset(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()

    def _garbage(self, sock: socket.socket) -> None:
        sock.sendall(bytes(range(256)) * 64)

    def _hang(self, sock: socket.socket) -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not self._stop.wait(1):
            pass
