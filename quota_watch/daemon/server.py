"""HTTP: /metrics, /healthz, /readyz as an ASGI app served in the daemon's event loop."""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from quota_watch.config.settings import ServerSettings
from quota_watch.daemon import connections as conn
from quota_watch.daemon.auth import CHALLENGE, BasicAuth
from quota_watch.prometheus.exposition import Snapshot, render

log = logging.getLogger("quota_watch.daemon.server")

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Forward-secret AEAD suites only (TLS 1.2; TLS 1.3 suites are configured apart and all fine).
TLS_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
#: How long SIGTERM waits for open connections: an idle TLS keep-alive connection whose client
#: does not answer close_notify would otherwise hold the shutdown for asyncio's 30 s.
GRACEFUL_SHUTDOWN_SECONDS = 3


def create_app(
    snapshot: Callable[[], Awaitable[Snapshot]],
    ready: Callable[[], str | None],
    auth: BasicAuth | None = None,
) -> Starlette:
    """The ASGI app; `ready` returns None when ready, or the reason it is not.

    With `auth`, /metrics and /readyz need basic auth; /healthz never does, so liveness probes
    (systemd, Docker HEALTHCHECK, Kubernetes) need no credentials and reveal nothing.
    """

    async def denied(request: Request) -> Response | None:
        client = request.client.host if request.client else None
        if auth is None or await auth.allows(request.headers.get("authorization"), client):
            return None
        return PlainTextResponse(
            "unauthorized\n", status_code=401, headers={"WWW-Authenticate": CHALLENGE}
        )

    last_good = LastGood()

    async def metrics(request: Request) -> Response:
        refusal = await denied(request)
        if refusal is not None:
            return refusal
        try:
            body = render(await snapshot())
        except Exception as exc:  # e.g. the database is down: never a 500 with a traceback
            log.error("/metrics: %s: %s", type(exc).__name__, exc)
            return last_good.response()
        last_good.keep(body)
        return Response(body, media_type=PROMETHEUS_CONTENT_TYPE)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(request: Request) -> Response:
        refusal = await denied(request)
        if refusal is not None:
            return refusal
        reason = ready()
        if reason is None:
            return PlainTextResponse("ready\n")
        return PlainTextResponse(f"not ready: {reason}\n", status_code=503)

    return Starlette(
        routes=[
            Route("/metrics", metrics),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ]
    )


class LastGood:
    """The last exposition rendered, served (with its age in a header) while a fresh one cannot
    be: its last-success timestamps keep ageing, so Prometheus' stale rules still fire."""

    def __init__(self) -> None:
        self.body: bytes | None = None
        self.at = 0.0

    def keep(self, body: bytes) -> None:
        """Remember `body` as the latest good exposition."""
        self.body, self.at = body, time.monotonic()

    def response(self) -> Response:
        """The last good exposition, or 503 when there has been none."""
        if self.body is None:
            return PlainTextResponse("metrics unavailable: the store cannot be read\n", 503)
        age = f"{time.monotonic() - self.at:.0f}"
        return Response(
            self.body, media_type=PROMETHEUS_CONTENT_TYPE, headers={"X-Snapshot-Age": age}
        )


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling: the daemon owns SIGTERM/SIGHUP."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port); raises OSError (e.g. address in use)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def build_server(
    app: Starlette, host: str, port: int, settings: ServerSettings | None = None
) -> uvicorn.Server:
    """A uvicorn server for `app` that the caller runs with `await server.serve()`.

    HTTPS when `settings` has tls_cert_file (checked at config load), requiring client
    certificates when it has tls_client_ca_file.
    """
    settings = settings or ServerSettings()
    ca = settings.tls_client_ca_file
    max_open = conn.max_connections(conn.raise_fd_limit())
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
        ssl_certfile=settings.tls_cert_file,
        ssl_keyfile=settings.tls_key_file,
        ssl_ca_certs=None if ca is None else str(ca),
        ssl_cert_reqs=ssl.CERT_NONE if ca is None else ssl.CERT_REQUIRED,
        ssl_ciphers=TLS_CIPHERS,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        http=conn.guarded_protocol(max_open),  # connection cap and request-head deadline
        limit_concurrency=max_open,
        timeout_keep_alive=conn.KEEP_ALIVE_TIMEOUT,
        h11_max_incomplete_event_size=conn.MAX_REQUEST_HEAD,
    )
    return _EmbeddedServer(config)
