"""An ASGI app served by uvicorn on loopback in a background thread (emulator, loopback cases)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from types import TracebackType
from typing import Any, Self

import uvicorn

__all__ = ["ServedInThread", "ThreadedServer"]


class _StartsAndStops:
    """`with x:` starts x and stops it on the way out."""

    def start(self, timeout: float = 10.0) -> None:
        """Start serving."""
        raise NotImplementedError

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ThreadedServer(_StartsAndStops):
    """Serves `app` on (host, port) from its own thread and event loop until stopped."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, name: str = "") -> None:
        self.app = app
        self.host = host
        self._requested_port = port
        self._name = name or "quota-watch-test-server"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._port: int | None = None

    @property
    def running(self) -> bool:
        """Whether the server thread is serving."""
        return self._thread is not None

    def start(self, timeout: float = 10.0) -> None:
        """Bind the port and serve in a background thread; returns once the server accepts."""
        if self._thread is not None:
            raise RuntimeError(f"{self._name} is already running")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # An explicit IPPROTO_TCP makes asyncio set TCP_NODELAY on accepted connections;
        # without it every answer waits ~40 ms on Nagle and delayed ACKs.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self._requested_port))
        except OSError:
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_config=None,
            access_log=False,
            lifespan="off",
            loop="asyncio",
            backlog=4096,
            timeout_graceful_shutdown=1,
            date_header=False,  # the routes set their own Date where a case needs one
            server_header=False,
        )
        server = uvicorn.Server(config)
        self._server = server
        self._failure = None

        def serve() -> None:
            try:
                asyncio.run(server.serve(sockets=[sock]))
            except BaseException as exc:  # reported to the thread that called start()
                self._failure = exc

        self._thread = threading.Thread(
            target=serve, name=f"{self._name}:{self._port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self._name} did not start: {self._failure!r}")
            time.sleep(0.01)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving (abandoning requests still hanging) and join the server thread."""
        server, thread = self._server, self._thread
        if server is not None:
            server.should_exit = True
            server.force_exit = True
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise RuntimeError(f"{self._name} thread did not stop")
        self._server = None
        self._thread = None

    @property
    def port(self) -> int:
        """The bound TCP port (useful with port=0)."""
        if self._port is None:
            raise RuntimeError(f"{self._name} has not been started")
        return self._port


class ServedInThread(_StartsAndStops):
    """Lifecycle of a test double that serves its app through `self._http` (a ThreadedServer):
    a context manager, start/stop and the bound port."""

    _http: ThreadedServer

    def start(self, timeout: float = 10.0) -> None:
        """Bind the port and serve in a background thread; returns once the server accepts."""
        self._http.start(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving (abandoning requests still hanging) and join the server thread."""
        self._http.stop(timeout)

    @property
    def port(self) -> int:
        """The bound TCP port (useful with port=0)."""
        return self._http.port
