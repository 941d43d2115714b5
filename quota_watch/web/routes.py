"""The status page at / and the JSON API at /api/v1/report and /api/v1/plan, as Starlette
routes mounted by the daemon's HTTP server behind its basic auth."""

from __future__ import annotations

import gzip
import math
from collections.abc import Awaitable, Callable
from datetime import timedelta
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from quota_watch.reporting.command import ReportError, choose
from quota_watch.reporting.plan import plan_to_json
from quota_watch.reporting.render import to_json
from quota_watch.status.plan import build_plan
from quota_watch.status.position import load_positions
from quota_watch.units import format_duration, iso_z
from quota_watch.web import sparkline
from quota_watch.web.model import NotReady, filters_of, load_page, load_report
from quota_watch.web.source import LiveSource

__all__ = ["CSS_PATH", "page_routes", "refresh_text", "render_page", "templates"]

Denied = Callable[[Request], Awaitable[Response | None]]
CSS_PATH = "/static/page.css"
JSON_TYPE = "application/json"
_NO_STORE = {"Cache-Control": "no-store"}
_MAX_REFRESH = 86400
_GZIP_FROM = 1024  # bytes; below this gzip saves next to nothing
_HTML = "text/html; charset=utf-8"
_CSS = "text/css; charset=utf-8"
_JS = "text/javascript; charset=utf-8"


def templates() -> Environment:
    """The page's Jinja2 environment (autoescaped, templates from the package)."""
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


def page_routes(source: LiveSource, denied: Denied) -> list[BaseRoute]:
    """/, the stylesheet and the JSON API; each answers `denied`'s refusal when it has one."""
    env = templates()
    css = _static("page.css")
    script = _static("page.js")

    async def page(request: Request) -> Response:
        refusal = await denied(request)
        if refusal is not None:
            return refusal
        asked = _asked_refresh(request)
        refresh = int(source.refresh().total_seconds()) if asked is None else asked
        try:
            chosen = filters_of(_params(request), source.runtimes())
            data = await load_page(source, chosen)
        except ReportError as exc:
            html = env.get_template("error.html").render(message=str(exc), status=400)
            return HTMLResponse(html, status_code=400, headers=_NO_STORE)
        except NotReady as exc:
            html = env.get_template("error.html").render(message=str(exc), status=503)
            return HTMLResponse(html, status_code=503, headers={**_NO_STORE, "Retry-After": "5"})
        context = {
            "page": data,
            "refresh": refresh,
            "refresh_text": refresh_text(refresh) if refresh else "",
            "refresh_query": asked,
        }
        return _respond(request, render_page(env, context), _HTML, _NO_STORE)

    async def stylesheet(request: Request) -> Response:
        refusal = await denied(request)
        if refusal is not None:
            return refusal
        return _respond(request, css, _CSS, {"Cache-Control": "max-age=300"})

    async def javascript(request: Request) -> Response:
        refusal = await denied(request)
        if refusal is not None:
            return refusal
        return _respond(request, script, _JS, {"Cache-Control": "max-age=300"})

    def problem(message: str, status: int) -> Response:
        return JSONResponse({"error": message}, status_code=status, headers=_NO_STORE)

    async def api_report(request: Request) -> Response:
        refusal = await denied(request)
        if refusal is not None:
            return refusal
        try:
            chosen = filters_of(_params(request), source.runtimes())
            _view, entries = await load_report(source, chosen, source.clock())
        except ReportError as exc:
            return problem(str(exc), 400)
        except NotReady as exc:
            return problem(str(exc), 503)
        return _respond(request, to_json(entries), JSON_TYPE, _NO_STORE)

    async def api_plan(request: Request) -> Response:
        refusal = await denied(request)
        if refusal is not None:
            return refusal
        runtimes = source.runtimes()
        store = source.store()
        try:
            groups = choose(
                "group",
                request.query_params.getlist("group"),
                sorted({rt.config.group for rt in runtimes.values() if rt.config.group}),
            )
        except ReportError as exc:
            return problem(str(exc), 400)
        if store is None:
            return problem("the store is not open yet", 503)
        # As `quota-watch plan --group`: the pools asked for, or every account.
        planned = {n: rt for n, rt in runtimes.items() if not groups or rt.config.group in groups}
        now = source.clock()
        pack = source.pack()
        positions = await load_positions(store, planned, pack, source.overrides(), now)
        body = plan_to_json(build_plan(positions, planned, pack, now))
        return _respond(request, body, JSON_TYPE, _NO_STORE)

    return [
        Route("/", page),
        Route(CSS_PATH, stylesheet),
        Route("/static/page.js", javascript),
        Route("/api/v1/report", api_report),
        Route("/api/v1/plan", api_plan),
    ]
