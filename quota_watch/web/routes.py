"""The status page at / and the JSON API at /api/v1/report and /api/v1/plan, as Starlette
routes mounted by the daemon's HTTP server behind its basic auth."""

from __future__ import annotations

import asyncio
import functools
import gzip
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import timedelta
from importlib import resources
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from quota_watch.reporting.command import ReportError, choose
from quota_watch.reporting.plan import plan_to_json
from quota_watch.reporting.render import to_json
from quota_watch.status.plan import build_plan
from quota_watch.status.position import load_positions
from quota_watch.store.models import StoreError
from quota_watch.units import format_duration, iso_z
from quota_watch.web import sparkline
from quota_watch.web.model import NotReady, filters_of, load_page, load_report
from quota_watch.web.source import LiveSource

if TYPE_CHECKING:
    from jinja2 import Environment

log = logging.getLogger("quota_watch.web")

__all__ = ["CSS_PATH", "page_routes", "refresh_text", "render_page", "templates"]

Denied = Callable[[Request], Awaitable[Response | None]]
CSS_PATH = "/static/page.css"
JSON_TYPE = "application/json"
_NO_STORE = {"Cache-Control": "no-store"}
#: The page loads only its own stylesheet and script: an injected inline script would not run
#: even if escaping ever failed. Inline style attributes draw the usage bars.
_PAGE_HEADERS = {
    **_NO_STORE,
    "Content-Security-Policy": "default-src 'none'; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_MAX_REFRESH = 86400
_CONCURRENT_VIEWS = 2
_GZIP_FROM = 1024  # bytes; below this gzip saves next to nothing
_HTML = "text/html; charset=utf-8"
_CSS = "text/css; charset=utf-8"
_JS = "text/javascript; charset=utf-8"


def templates() -> Environment:
    """The page's Jinja2 environment (autoescaped, templates from the package)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("quota_watch.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        css_path=CSS_PATH,
        spark_width=sparkline.WIDTH,
        spark_height=sparkline.HEIGHT,
        iso_z=iso_z,
    )
    return env


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an Accept-Encoding header allows gzip (a q of 0 refuses it)."""
    for item in (accept_encoding or "").split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() not in ("gzip", "*"):
            continue
        q = params.strip().lower()
        if q.startswith("q="):
            try:
                return float(q[2:]) > 0
            except ValueError:
                return False
        return True
    return False


def _respond(
    request: Request,
    body: str | bytes,
    media_type: str,
    headers: dict[str, str],
    status_code: int = 200,
) -> Response:
    """`body`, gzipped when the client accepts it and it is worth it (the page of 100
    accounts is ~60x smaller so: it repeats the same markup per row)."""
    raw = body.encode() if isinstance(body, str) else body
    headers = {**headers, "Vary": "Accept-Encoding"}
    if len(raw) >= _GZIP_FROM and accepts_gzip(request.headers.get("accept-encoding")):
        raw = gzip.compress(raw, 6)
        headers["Content-Encoding"] = "gzip"
    return Response(raw, status_code=status_code, media_type=media_type, headers=headers)


def _static(name: str) -> bytes:
    return resources.files("quota_watch.web").joinpath("static", name).read_bytes()


def _params(request: Request) -> dict[str, list[str]]:
    keys = dict.fromkeys(request.query_params.keys())
    return {k: request.query_params.getlist(k) for k in keys}


def _asked_refresh(request: Request) -> int | None:
    """?refresh=N seconds (0: never), or None when absent or not a number of seconds."""
    given = request.query_params.get("refresh")
    if given is None:
        return None
    try:
        seconds = float(given)
    except ValueError:
        return None
    return int(seconds) if math.isfinite(seconds) and 0 <= seconds <= _MAX_REFRESH else None


def refresh_text(seconds: int) -> str:
    """The refresh period as the config writes durations ("1m", "30s")."""
    return format_duration(timedelta(seconds=seconds))


def render_page(env: Environment, context: dict[str, Any]) -> str:
    """The page's HTML for `context` (a PageData as `page`, the refresh seconds, the query)."""
    return env.get_template("page.html").render(context)


def _problem(message: str, status: int) -> Response:
    """A JSON refusal, as the API answers."""
    headers = {**_NO_STORE, **({"Retry-After": "5"} if status == 503 else {})}
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _guarded(
    view: Callable[[Request], Awaitable[Response]],
    refuse: Callable[[str, int], Response],
    denied: Denied,
    busy: asyncio.Semaphore,
) -> Callable[[Request], Awaitable[Response]]:
    """`view` behind the auth check and the concurrency bound; bad filters are a 400,
    a store not open or failing a 503 (the store's error is logged, not shown)."""

    async def endpoint(request: Request) -> Response:
        refusal = await denied(request)
        if refusal is not None:
            return refusal
        async with busy:
            try:
                return await view(request)
            except ReportError as exc:
                return refuse(str(exc), 400)
            except NotReady as exc:
                return refuse(str(exc), 503)
            except StoreError as exc:
                log.error("%s: reading the store: %s", request.url.path, exc)
                return refuse("the store could not be read (see the daemon's log)", 503)

    return endpoint


async def _api_plan(source: LiveSource, request: Request) -> Response:
    """As `quota-watch plan --group --format json`: the pools asked for, or every account."""
    runtimes = source.runtimes()
    groups = choose(
        "group",
        request.query_params.getlist("group"),
        sorted({rt.config.group for rt in runtimes.values() if rt.config.group}),
    )
    store = source.store()
    if store is None:
        raise NotReady("the store is not open yet")
    planned = {n: rt for n, rt in runtimes.items() if not groups or rt.config.group in groups}
    now = source.clock()
    pack = source.pack()
    positions = await load_positions(store, planned, pack, source.overrides(), now)
    body = plan_to_json(build_plan(positions, planned, pack, now))
    return _respond(request, body, JSON_TYPE, _NO_STORE)


def page_routes(source: LiveSource, denied: Denied) -> list[BaseRoute]:
    """/, the stylesheet and the JSON API; each answers `denied`'s refusal when it has one."""
    # Jinja2 and the compiled templates (~3 MiB) wait for the first page view: a daemon whose
    # page nobody opens does not pay for them.
    env = functools.cache(templates)
    css = _static("page.css")
    script = _static("page.js")
    # A page of 100 accounts reads the store and renders for ~0.3 s of CPU: at most this many
    # at once, so a burst of viewers queues instead of starving the polls on a small VM.
    busy = asyncio.Semaphore(_CONCURRENT_VIEWS)

    def guarded(
        view: Callable[[Request], Awaitable[Response]], refuse: Callable[[str, int], Response]
    ) -> Callable[[Request], Awaitable[Response]]:
        return _guarded(view, refuse, denied, busy)

    def error_page(message: str, status: int) -> Response:
        html = env().get_template("error.html").render(message=message, status=status)
        headers = {**_PAGE_HEADERS, **({"Retry-After": "5"} if status == 503 else {})}
        return HTMLResponse(html, status_code=status, headers=headers)

    async def page(request: Request) -> Response:
        asked = _asked_refresh(request)
        refresh = int(source.refresh().total_seconds()) if asked is None else asked
        data = await load_page(source, filters_of(_params(request), source.runtimes()))
        context = {
            "page": data,
            "refresh": refresh,
            "refresh_text": refresh_text(refresh) if refresh else "",
            "refresh_query": asked,
        }
        return _respond(request, render_page(env(), context), _HTML, _PAGE_HEADERS)

    async def api_report(request: Request) -> Response:
        chosen = filters_of(_params(request), source.runtimes())
        _view, entries = await load_report(source, chosen, source.clock())
        return _respond(request, to_json(entries), JSON_TYPE, _NO_STORE)

    async def stylesheet(request: Request) -> Response:
        return _respond(request, css, _CSS, {"Cache-Control": "max-age=300"})

    async def javascript(request: Request) -> Response:
        return _respond(request, script, _JS, {"Cache-Control": "max-age=300"})

    async def api_plan(request: Request) -> Response:
        return await _api_plan(source, request)

    return [
        Route("/", guarded(page, error_page)),
        Route(CSS_PATH, guarded(stylesheet, _problem)),
        Route("/static/page.js", guarded(javascript, _problem)),
        Route("/api/v1/report", guarded(api_report, _problem)),
        Route("/api/v1/plan", guarded(api_plan, _problem)),
    ]
