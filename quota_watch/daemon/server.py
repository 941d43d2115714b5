"""HTTP: /metrics, /healthz, /readyz and the status page, an ASGI app in the daemon's loop."""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from quota_watch import __version__
from quota_watch.config.settings import Config, ServerSettings
from quota_watch.daemon import connections as conn
from quota_watch.daemon.auth import CHALLENGE, BasicAuth, is_loopback
from quota_watch.prometheus.body import CHUNK_BYTES, Body
from quota_watch.prometheus.exposition import Snapshot, render_body
from quota_watch.prometheus.negotiate import GZIP_LEVEL, negotiate
from quota_watch.web.routes import page_routes
from quota_watch.web.source import LiveSource

log = logging.getLogger("quota_watch.daemon.server")

#: Forward-secret AEAD suites only (TLS 1.2; TLS 1.3 suites are configured apart and all fine).
TLS_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
#: How long SIGTERM waits for open connections: an idle TLS keep-alive connection whose client
#: does not answer close_notify would otherwise hold the shutdown for asyncio's 30 s.
GRACEFUL_SHUTDOWN_SECONDS = 3


def create_app(
    snapshot: Callable[[], Awaitable[Snapshot]],
    ready: Callable[[], str | None],
    auth: BasicAuth | None = None,
    web: LiveSource | None = None,
    resume: Callable[[str], bool] | None = None,
) -> Starlette:
    """The ASGI app; `ready` returns None when ready, or the reason it is not; `resume` polls
    a paused account now (False: no such account), for `quota-watch account resume`.

    With `auth`, /metrics and /readyz need basic auth; /healthz never does, so liveness probes
    (systemd, Docker HEALTHCHECK, Kubernetes) need no credentials and reveal nothing. With
    `web`, the status page (/) and the JSON API (/api/v1/...) are served too, behind the same
    auth.
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
        extra: dict[str, str] = {}
        try:
            snap = await snapshot()
            last_good.keep(snap)
        except Exception as exc:  # e.g. the database is down: never a 500 with a traceback
            log.error("/metrics: %s: %s", type(exc).__name__, exc)
            if last_good.snapshot is None:
                return PlainTextResponse("metrics unavailable: the store cannot be read\n", 503)
            snap, extra = last_good.snapshot, {"X-Snapshot-Age": last_good.age()}
        chosen = negotiate(request.headers.get("accept"), request.headers.get("accept-encoding"))
        return metrics_response(
            render_body(snap, chosen.openmetrics), chosen.gzip, {**chosen.headers, **extra}
        )

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

    async def resume_account(request: Request) -> Response:
        refusal = await denied(request)
        if refusal is not None:
            return refusal
        name = request.path_params["name"]
        if resume is None or not resume(name):
            return JSONResponse({"error": f"no polled account {name!r}"}, status_code=404)
        return JSONResponse({"account": name, "resumed": True})

    routes: list[BaseRoute] = [
        Route("/metrics", metrics),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/api/v1/accounts/{name}/resume", resume_account, methods=["POST"]),
    ]
    if web is not None:
        routes += page_routes(web, denied)
    return Starlette(routes=routes)


def metrics_response(body: Body, compress: bool, headers: dict[str, str]) -> Response:
    """The /metrics response: gzipped whole (the cached pieces make that cheap), or the text
    streamed in chunks with its length, so a large body is never copied into one buffer."""
    if compress:
        return Response(body.gzip(GZIP_LEVEL), headers=headers)
    if body.size <= CHUNK_BYTES:
        return Response(body.join(), headers=headers)

    async def chunks() -> AsyncIterator[bytes]:
        for chunk in body.chunks():
            yield chunk

    return StreamingResponse(chunks(), headers={**headers, "Content-Length": str(body.size)})


class LastGood:
    """The last snapshot read, served (with its age in a header) while a fresh one cannot be:
    its last-success timestamps keep ageing, so Prometheus' stale rules still fire."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None
        self.at = 0.0

    def keep(self, snapshot: Snapshot) -> None:
        """Remember `snapshot` as the latest good one."""
        self.snapshot, self.at = snapshot, time.monotonic()

    def age(self) -> str:
        """Seconds since the kept snapshot was read, as a header value."""
        return f"{time.monotonic() - self.at:.0f}"


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
        ws="none",  # no WebSocket routes: loads no WebSocket library
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


def announce(config: Config, host: str, authenticated: bool) -> None:
    """The start-up line (version, accounts, where /metrics is), and a warning when /metrics
    is open to the network without basic auth."""
    settings = config.settings
    source = config.source or "embedded default (host collector)"
    scheme = "https" if settings.server.tls_cert_file else "http"
    log.info(
        "quota-watch %s: %d accounts from %s; metrics on %s://%s/metrics%s",
        __version__,
        len(config.accounts),
        source,
        scheme,
        settings.server.listen,
        " (basic auth)" if authenticated else "",
    )
    if not is_loopback(host) and not authenticated:
        log.warning(
            "listening on %s without basic auth: anyone who can reach it reads /metrics; "
            "set [server.basic_auth_users] (and TLS) or listen on 127.0.0.1",
            settings.server.listen,
        )
