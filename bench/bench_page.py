"""Status page benchmark: server-side render time of / with 100 accounts beside the report's
JSON of the same data (the peer), and the page's weight in bytes.

Builds the database of bench_report.py (100 accounts x 4 limits, a poll every 10 min) for the
sparkline's 15 days, stores the forecasts as the daemon does, then, in one process on the
daemon's own Store (SQLite, WAL):

- the request end to end through the daemon's ASGI app (store read + page build + Jinja2
  render): GET / beside GET /api/v1/report (the same read, rendered as `report --format json`);
- the render alone, from the same already-read data: the page template beside
  reporting.render.to_json;
- the bytes of the HTML, the stylesheet and the script, raw and gzipped (level 6).

    python bench/bench_page.py            # 100 accounts
    python bench/bench_page.py --quick    # 10 accounts
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from _common import Result, add_common_args, header, median, ms, table, write_results
from bench_report import LIMITS, account_names, build, store_forecasts, write_config

from quota_watch.config.load import load_config
from quota_watch.daemon.server import create_app
from quota_watch.engine.rulepack import load_rule_pack
from quota_watch.prometheus.exposition import Snapshot
from quota_watch.reporting.command import ReportRequest, account_runtimes
from quota_watch.reporting.render import to_json
from quota_watch.store.facade import Store
from quota_watch.web.model import load_page, load_report
from quota_watch.web.routes import refresh_text, render_page, templates
from quota_watch.web.source import LiveSource

HISTORY_DAYS = 15


async def _no_snapshot() -> Snapshot:
    raise AssertionError("not scraped here")


def timed_sync(run: Callable[[], object], repeats: int) -> list[float]:
    """Wall times of `repeats` calls of `run`, after one warm-up."""
    run()
    walls = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        walls.append(time.perf_counter() - t0)
    return walls


async def measure(config_path: Path, db: Path, now: datetime, repeats: int) -> dict[str, object]:
    """Time the page and the JSON on the built database; the figures and the page's bytes."""
    config = load_config(config_path)
    runtimes = account_runtimes(config, lambda _a: True)
    pack = load_rule_pack(config.settings.alerts.rule_pack)
    store = await Store.open(f"sqlite:///{db}")
    source = LiveSource(
        store=lambda: store,
        runtimes=lambda: runtimes,
        pack=lambda: pack,
        overrides=lambda: config.settings.rules,
        refresh=lambda: timedelta(minutes=1),
        clock=lambda: now,
    )
    try:
        app = create_app(_no_snapshot, lambda: None, None, source)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            page = await client.get("/")
            api = await client.get("/api/v1/report")
            css = await client.get("/static/page.css")
            script = await client.get("/static/page.js")
            for response in (page, api, css, script):
                response.raise_for_status()
            request = ReportRequest()
            data = await load_page(source, request)
            _view, entries = await load_report(source, request, now)
            # Interleaved, so that a change in the machine's load hits every step alike.
            steps: dict[str, Callable[[], Awaitable[object]]] = {
                "page_request": lambda: client.get("/"),
                "api_request": lambda: client.get("/api/v1/report"),
                "read": lambda: load_report(source, request, now),
                "page_data": lambda: load_page(source, request),
            }
            walls: dict[str, list[float]] = {name: [] for name in steps}
            for step in steps.values():
                await step()  # warm-up
            for _ in range(repeats):
                for name, step in steps.items():
                    t0 = time.perf_counter()
                    await step()
                    walls[name].append(time.perf_counter() - t0)
        env = templates()
        context = {"page": data, "refresh": 60, "refresh_text": refresh_text(60)}
        context["refresh_query"] = None
        render_walls = timed_sync(lambda: render_page(env, context), repeats)
        json_walls = timed_sync(lambda: to_json(entries), repeats)
    finally:
        await store.close()
    series = sum(len(b.rows) for b in data.blocks)
    return {
        "series": series,
        **{name: median(found) for name, found in walls.items()},
        "render": median(render_walls),
        "to_json": median(json_walls),
        "html": page.content,
        "json": api.content,
        "css": css.content,
        "js": script.content,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the bench and print its figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add_common_args(parser)
    parser.add_argument("--accounts", type=int, default=None, help="default 100 (quick: 10)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs of each (15)")
    args = parser.parse_args(argv)
    count = args.accounts or (10 if args.quick else 100)
    repeats = args.repeats or (5 if args.quick else 15)
    header(
        "status page",
        f"{count} accounts x {len(LIMITS)} limits, a poll every 10 min for {HISTORY_DAYS} days "
        "(bench_report's database), read through the daemon's Store; medians of "
        f"{repeats} runs after a warm-up, in one process.",
    )
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    now -= timedelta(minutes=now.minute % 10)
    names = account_names(count)
    with tempfile.TemporaryDirectory(prefix="qw-bench-page-") as tmp:
        workdir = Path(tmp)
        db = workdir / "page.db"
        config = workdir / "page.toml"
        write_config(config, db, names)
        t0 = time.perf_counter()
        asyncio.run(build(db, names, now, 1.0, HISTORY_DAYS))
        asyncio.run(store_forecasts(db, config))
        print(f"database built in {time.perf_counter() - t0:.1f} s\n")
        found = asyncio.run(measure(config, db, now, repeats))
    assert found["series"] == count * len(LIMITS), found["series"]
    sizes = {k: found[k] for k in ("html", "css", "js", "json")}
    weight = {k: (len(v), len(gzip.compress(v, 6))) for k, v in sizes.items()}  # type: ignore[arg-type]
    page_raw = weight["html"][0] + weight["css"][0] + weight["js"][0]
    page_gz = weight["html"][1] + weight["css"][1] + weight["js"][1]
    f = {k: v for k, v in found.items() if isinstance(v, float)}
    print(
        table(
            ["step (median)", "status page", "report --format json", "page / json"],
            [
                (
                    "GET end to end (read + build + render)",
                    ms(f["page_request"]),
                    ms(f["api_request"]),
                    f"{f['page_request'] / f['api_request']:.2f}x",
                ),
                ("store read (report_view, shared)", ms(f["read"]), ms(f["read"]), "1.00x"),
                (
                    "render alone (template vs to_json)",
                    ms(f["render"]),
                    ms(f["to_json"]),
                    f"{f['render'] / f['to_json']:.2f}x",
                ),
                ("page data (read + cells + alerts + silences)", ms(f["page_data"]), "", ""),
            ],
        )
    )
    print()
    print(
        table(
            ["bytes", "raw", "gzip -6"],
            [
                ("HTML (/)", f"{weight['html'][0]:,}", f"{weight['html'][1]:,}"),
                ("CSS (/static/page.css)", f"{weight['css'][0]:,}", f"{weight['css'][1]:,}"),
                ("JS (/static/page.js)", f"{weight['js'][0]:,}", f"{weight['js'][1]:,}"),
                ("page total (HTML + CSS + JS)", f"{page_raw:,}", f"{page_gz:,}"),
                ("peer: /api/v1/report JSON", f"{weight['json'][0]:,}", f"{weight['json'][1]:,}"),
            ],
        )
    )
    results = [
        Result("page", f"GET / ({count} accounts)", ms(f["page_request"])),
        Result("page", "GET /api/v1/report (peer)", ms(f["api_request"])),
        Result("page", "page render alone / to_json", f"{f['render'] / f['to_json']:.2f}x"),
        Result("page", "page weight HTML+CSS+JS", f"{page_raw:,} B ({page_gz:,} B gzipped)"),
    ]
    write_results(args.json, results, {k: v for k, v in f.items()} | {"weight": weight})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
