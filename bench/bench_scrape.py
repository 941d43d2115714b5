"""/metrics scrape CPU beside prometheus-client's generate_latest, at 1k, 10k and 50k series.

In-process on one synthetic data set per size (N/10 accounts x 10 limits, each with cap,
period bounds and a forecast, one poll status per account), so the figures sit side by side:

- ours: the daemon's scrape, `render_body(Snapshot(live=LiveExposition))` (the accounts'
  samples pre-rendered as polls finished, merged per block of accounts; the scrape strings the
  cached pieces together) consumed in the chunks the server sends; the same as OpenMetrics +
  gzip as Prometheus asks for it, when nothing changed since the last scrape (every piece's
  deflate segment cached) and after every account was polled again (every block re-merged and
  re-compressed: the worst case);
- before: `render(Snapshot)` of the same facts (what every scrape did before the live
  exposition, store reads not counted);
- peer: prometheus-client's `generate_latest` over a registry holding the very same samples
  (Gauge/Counter children set from our own output, so the data is identical);
- over HTTP: the daemon's /metrics route (`create_app`) served by uvicorn on loopback and
  scraped by a client process, beside prometheus-client's `make_asgi_app` on the same registry
  and server: the server's CPU and the client's wall per scrape, and the peak RSS a scrape adds.

CPU time (process_time) per scrape, median of the repeats; the per-account re-render that a
finished poll costs is shown too. The bodies are checked to be identical before timing.

    python bench/bench_scrape.py              # 1,000, 10,000 and 50,000 series
    python bench/bench_scrape.py --quick      # 1,000 and 10,000 series, fewer repeats
    python bench/bench_scrape.py --http-only  # only the HTTP part (runs on older commits too)
"""

from __future__ import annotations

import argparse
import gc
import gzip
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from _common import Result, add_common_args, header, median, mib, table, verdict, write_results
from _http_scrape import PROMETHEUS, TEXT, HttpFigures, routed, scrape_http
from bench_metrics_encoding import LIMITS, snapshot
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest, make_asgi_app
from prometheus_client import disable_created_metrics as disable_created
from prometheus_client.parser import text_string_to_metric_families

from quota_watch.daemon.server import create_app
from quota_watch.prometheus.exposition import LiveExposition, Snapshot, render
from quota_watch.prometheus.negotiate import GZIP_LEVEL

TARGET_CPU = 0.030  # per scrape at 10,000 series
TARGET_RATIO = 10.0  # at least this many times faster than generate_latest


def cpu_per_call(fn: Callable[[], object], repeats: int) -> float:
    """Median CPU seconds of `fn()` over `repeats` calls (GC as in the daemon)."""
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return median(times)


def live_of(snap: Snapshot) -> tuple[LiveExposition, float]:
    """A LiveExposition fed `snap` account by account, as polls would; and CPU per account."""
    live = LiveExposition()
    live.set_accounts(snap.accounts)
    by_account: dict[str, list[object]] = {}
    for r in snap.readings:
        by_account.setdefault(r.account, []).append(r)
    t0 = time.process_time()
    for s in snap.statuses:
        live.set_series(s.account, by_account[s.account], snap.forecasts)  # type: ignore[arg-type]
        live.set_status(s)
    return live, (time.process_time() - t0) / max(len(snap.statuses), 1)


def peer_registry(body: bytes) -> CollectorRegistry:
    """A prometheus-client registry holding exactly the samples of `body`."""
    disable_created()
    registry = CollectorRegistry(auto_describe=False)
    for family in text_string_to_metric_families(body.decode()):
        if not family.samples:
            continue
        labelnames = sorted(family.samples[0].labels)
        metric: Gauge | Counter
        if family.type == "counter":
            metric = Counter(family.name, family.documentation, labelnames, registry=registry)
        else:
            metric = Gauge(family.name, family.documentation, labelnames, registry=registry)
        for sample in family.samples:
            child = metric.labels(**sample.labels) if labelnames else metric
            if isinstance(child, Counter):
                child.inc(sample.value)
            else:
                child.set(sample.value)
    return registry


def repoll(live: LiveExposition, snap: Snapshot) -> None:
    """Feed every account's series and status again, as a cycle of polls would."""
    by_account: dict[str, list[object]] = {}
    for r in snap.readings:
        by_account.setdefault(r.account, []).append(r)
    for s in snap.statuses:
        live.set_series(s.account, by_account[s.account], snap.forecasts)  # type: ignore[arg-type]
        live.set_status(s)


def in_process(snap: Snapshot, daemon: Snapshot, repeats: int) -> dict[str, float]:
    """CPU per scrape of our text and OpenMetrics+gzip bodies (nothing changed; every account
    polled again since the last scrape), of render() and of generate_latest."""
    # Imported here: --http-only runs on commits from before the streamed body.
    from quota_watch.prometheus.exposition import render_body

    assert daemon.live is not None

    def text() -> None:
        for _chunk in render_body(daemon).chunks():
            pass

    def om_gzip() -> bytes:
        return render_body(daemon, True).gzip(GZIP_LEVEL)

    if gzip.decompress(om_gzip()) != render(snap, True):
        raise SystemExit("the gzipped exposition differs from render(): a bug")
    dirty = []
    for _ in range(max(3, repeats // 3)):
        repoll(daemon.live, snap)
        t0 = time.process_time()
        om_gzip()
        dirty.append(time.process_time() - t0)
    om_gzip()
    return {
        "ours_cpu": cpu_per_call(text, repeats),
        "ours_openmetrics_gzip_cpu": cpu_per_call(om_gzip, repeats),
        "ours_openmetrics_gzip_all_polled_cpu": median(dirty),
        "render_cpu": cpu_per_call(lambda: render(snap), max(3, repeats // 3)),
    }


def over_http(
    daemon: Snapshot, registry: CollectorRegistry, scrapes: int, peer_scrapes: int
) -> dict[str, HttpFigures]:
    """The daemon's route and prometheus-client's ASGI app, scraped over loopback."""

    async def take() -> Snapshot:
        return daemon

    ours = create_app(take, lambda: None)
    app = routed(ours, make_asgi_app(registry))  # type: ignore[arg-type]
    return scrape_http(
        app,
        [
            ("text", "/metrics", scrapes, TEXT),
            ("prometheus", "/metrics", scrapes, PROMETHEUS),
            ("peer", "/peer", peer_scrapes, PROMETHEUS),
        ],
    )


def rss() -> int:
    """This process's resident set size."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def growth_line(label: str, per_series: dict[int, float]) -> tuple[str, float]:
    """Per-series cost at the largest size over that at the smallest."""
    low, high = min(per_series), max(per_series)
    return f"{label}: {per_series[high] / per_series[low]:.2f}", per_series[high] / per_series[low]


def us(seconds: float, series: int) -> str:
    """Microseconds per series."""
    return f"{seconds / series * 1e6:.2f} us"


def main(argv: list[str] | None = None) -> int:
    """Run the bench and print its figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add_common_args(parser)
    parser.add_argument("--series", type=int, nargs="+", default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--http-only", action="store_true", help="only the HTTP scrapes")
    args = parser.parse_args(argv)
    sizes = args.series or ([1_000, 10_000] if args.quick else [1_000, 10_000, 50_000])
    repeats = args.repeats or (5 if args.quick else 15)
    header(
        "/metrics scrape CPU vs prometheus-client",
        f"{len(LIMITS)} limits per account, every optional sample present; CPU per scrape, "
        f"median of {repeats}; peer = generate_latest over the same samples.",
    )
    rows, http_rows = [], []
    results: list[Result] = []
    details: dict[str, dict[str, object]] = {}
    growth: dict[str, dict[int, float]] = {}
    for series in sizes:
        snap = snapshot(series // len(LIMITS))
        rss0 = rss()
        live, per_poll = live_of(snap)
        live_rss = rss() - rss0
        daemon = Snapshot((), (), (), process=snap.process, live=live)
        body = render(daemon)
        if body != render(snap) or render(daemon, True) != render(snap, True):
            raise SystemExit("the pre-rendered exposition differs from render(): a bug")
        registry = peer_registry(body)
        samples = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
        gc.collect()
        d: dict[str, object] = {"samples": samples, "bytes": len(body), "live_rss": live_rss}
        if not args.http_only:
            figures = in_process(snap, daemon, repeats)
            peer = cpu_per_call(lambda r=registry: generate_latest(r), max(3, repeats // 3))
            ours = figures["ours_cpu"]
            d.update(figures, generate_latest_cpu=peer, per_poll_render_cpu=per_poll)
            for key in ("ours_cpu", "ours_openmetrics_gzip_cpu"):
                growth.setdefault(key, {})[series] = figures[key] / series
            growth.setdefault("ours_openmetrics_gzip_all_polled_cpu", {})[series] = (
                figures["ours_openmetrics_gzip_all_polled_cpu"] / series
            )
            rows.append(
                (
                    f"{series:,}",
                    f"{samples:,}",
                    mib(len(body)),
                    f"{ours * 1e3:.1f} ms ({us(ours, series)})",
                    f"{figures['ours_openmetrics_gzip_cpu'] * 1e3:.1f} ms",
                    f"{figures['ours_openmetrics_gzip_all_polled_cpu'] * 1e3:.1f} ms",
                    f"{figures['render_cpu'] * 1e3:.0f} ms",
                    f"{peer * 1e3:.0f} ms",
                    f"{peer / ours:.0f}x",
                    f"{per_poll * 1e6:.0f} us",
                )
            )
            if series == 10_000:
                results.extend(headline(figures, peer))
        http = over_http(daemon, registry, max(3, repeats // 2), 3 if series <= 10_000 else 2)
        for label, fig in http.items():
            d[f"http_{label}"] = vars(fig)
            growth.setdefault(f"http_{label}_cpu", {})[series] = fig.cpu / series
        ours_http, prom, peer_http = http["text"], http["prometheus"], http["peer"]
        http_rows.append(
            (
                f"{series:,}",
                f"{ours_http.cpu * 1e3:.1f} / {ours_http.wall * 1e3:.0f} ms",
                f"{prom.cpu * 1e3:.1f} / {prom.wall * 1e3:.0f} ms, {mib(prom.size)}",
                f"{peer_http.cpu * 1e3:.0f} / {peer_http.wall * 1e3:.0f} ms, {mib(peer_http.size)}",
                f"{peer_http.cpu / prom.cpu:.0f}x",
                f"{mib(ours_http.peak_extra)} / {mib(prom.peak_extra)}",
                mib(live_rss),
            )
        )
        details[str(series)] = d
    if rows:
        print(
            table(
                (
                    "series",
                    "samples",
                    "body",
                    "ours, text (per series)",
                    "ours, OpenMetrics+gzip",
                    "same, every account polled since",
                    "render() before",
                    "generate_latest",
                    "peer / ours",
                    "re-render per poll",
                ),
                rows,
            )
        )
    print("\nover HTTP (uvicorn on loopback, client in its own process): server CPU / client wall")
    print(
        table(
            (
                "series",
                "ours, text",
                "ours, OpenMetrics+gzip",
                "peer (make_asgi_app), OpenMetrics+gzip",
                "peer / ours CPU",
                "peak RSS a scrape adds (text / gzip)",
                "RSS of the live exposition",
            ),
            http_rows,
        )
    )
    if len(sizes) > 1:
        low, high = min(sizes), max(sizes)
        print(f"\ncost per series at {high:,} / at {low:,} (1.00 = linear):")
        for key, per_series in growth.items():
            line, ratio = growth_line(key, per_series)
            print(f"  {line}")
            if key == "ours_cpu":
                results.append(
                    Result(
                        "scrape",
                        f"/metrics growth, per-series cost {high:,} vs {low:,} series",
                        f"{ratio:.2f}",
                        "<= 1.5 (linear)",
                        verdict(ratio <= 1.5),
                    )
                )
    write_results(args.json, results, details)
    return 0


def headline(figures: dict[str, float], peer: float) -> list[Result]:
    """The 10,000-series figures against the targets."""
    ours, om_gzip = figures["ours_cpu"], figures["ours_openmetrics_gzip_cpu"]
    return [
        Result(
            "scrape",
            "/metrics CPU per scrape, 10,000 series",
            f"{ours * 1e3:.1f} ms (gzip+OpenMetrics {om_gzip * 1e3:.1f} ms)",
            f"<= {TARGET_CPU * 1e3:.0f} ms",
            verdict(ours <= TARGET_CPU),
        ),
        Result(
            "scrape",
            "/metrics vs generate_latest, 10,000 series",
            f"{peer / ours:.0f}x faster ({peer * 1e3:.0f} ms vs {ours * 1e3:.1f} ms)",
            f">= {TARGET_RATIO:.0f}x",
            verdict(peer / ours >= TARGET_RATIO),
        ),
    ]


if __name__ == "__main__":
    sys.exit(main())
