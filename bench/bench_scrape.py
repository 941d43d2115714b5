"""/metrics scrape CPU beside prometheus-client's generate_latest, at 1k, 10k and 50k series.

In-process on one synthetic data set per size (N/10 accounts x 10 limits, each with cap,
period bounds and a forecast, one poll status per account), so the figures sit side by side:

- ours: the daemon's scrape, `render(Snapshot(live=LiveExposition))` (the accounts' samples
  pre-rendered as polls finished; the scrape concatenates them around the daemon-wide
  families), and the same with gzip as Prometheus asks for it;
- before: `render(Snapshot)` of the same facts (what every scrape did before, store reads not
  counted);
- peer: prometheus-client's `generate_latest` over a registry holding the very same samples
  (Gauge/Counter children set from our own output, so the data is identical).

CPU time (process_time) per scrape, median of the repeats; the per-account re-render that a
finished poll costs is shown too. The bodies are checked to be identical before timing.

    python bench/bench_scrape.py              # 1,000, 10,000 and 50,000 series
    python bench/bench_scrape.py --quick      # 1,000 and 10,000 series, fewer repeats
"""

from __future__ import annotations

import argparse
import gc
import gzip
import sys
import time
from collections.abc import Callable

from _common import Result, add_common_args, header, median, mib, table, verdict, write_results
from bench_metrics_encoding import LIMITS, snapshot
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client import disable_created_metrics as disable_created
from prometheus_client.parser import text_string_to_metric_families

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


def main(argv: list[str] | None = None) -> int:
    """Run the bench and print its figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add_common_args(parser)
    parser.add_argument("--series", type=int, nargs="+", default=None)
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    sizes = args.series or ([1_000, 10_000] if args.quick else [1_000, 10_000, 50_000])
    repeats = args.repeats or (5 if args.quick else 15)
    header(
        "/metrics scrape CPU vs prometheus-client",
        f"{len(LIMITS)} limits per account, every optional sample present; CPU per scrape, "
        f"median of {repeats}; peer = generate_latest over the same samples.",
    )
    rows = []
    results: list[Result] = []
    details: dict[str, object] = {}
    per_series: dict[int, float] = {}
    for series in sizes:
        snap = snapshot(series // len(LIMITS))
        live, per_poll = live_of(snap)
        daemon = Snapshot((), (), (), process=snap.process, live=live)
        body = render(daemon)
        if body != render(snap) or render(daemon, True) != render(snap, True):
            raise SystemExit("the pre-rendered exposition differs from render(): a bug")
        registry = peer_registry(body)
        samples = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
        peer_samples = sum(
            1 for line in generate_latest(registry).splitlines() if not line.startswith(b"#")
        )
        gc.collect()
        ours = cpu_per_call(lambda d=daemon: render(d), repeats)
        ours_om_gzip = cpu_per_call(
            lambda d=daemon: gzip.compress(render(d, True), GZIP_LEVEL, mtime=0), repeats
        )
        before = cpu_per_call(lambda s=snap: render(s), max(3, repeats // 3))
        peer = cpu_per_call(lambda r=registry: generate_latest(r), max(3, repeats // 3))
        per_series[series] = ours / series
        rows.append(
            (
                f"{series:,}",
                f"{samples:,} ({peer_samples:,})",
                mib(len(body)),
                f"{ours * 1e3:.1f} ms",
                f"{ours_om_gzip * 1e3:.1f} ms",
                f"{before * 1e3:.0f} ms",
                f"{peer * 1e3:.0f} ms",
                f"{peer / ours:.0f}x",
                f"{ours / series * 1e6:.2f} us",
                f"{per_poll * 1e6:.0f} us",
            )
        )
        details[str(series)] = {
            "samples": samples,
            "bytes": len(body),
            "ours_cpu": ours,
            "ours_openmetrics_gzip_cpu": ours_om_gzip,
            "render_cpu": before,
            "generate_latest_cpu": peer,
            "per_poll_render_cpu": per_poll,
        }
        if series == 10_000:
            results.append(
                Result(
                    "scrape",
                    "/metrics CPU per scrape, 10,000 series",
                    f"{ours * 1e3:.1f} ms (gzip+OpenMetrics {ours_om_gzip * 1e3:.1f} ms)",
                    f"<= {TARGET_CPU * 1e3:.0f} ms",
                    verdict(ours <= TARGET_CPU),
                )
            )
            results.append(
                Result(
                    "scrape",
                    "/metrics vs generate_latest, 10,000 series",
                    f"{peer / ours:.0f}x faster ({peer * 1e3:.0f} ms vs {ours * 1e3:.1f} ms)",
                    f">= {TARGET_RATIO:.0f}x",
                    verdict(peer / ours >= TARGET_RATIO),
                )
            )
    print(
        table(
            (
                "series",
                "samples (peer's)",
                "body",
                "ours",
                "ours, OpenMetrics+gzip",
                "render() before",
                "generate_latest",
                "peer / ours",
                "ours per series",
                "re-render per poll",
            ),
            rows,
        )
    )
    if len(per_series) > 1:
        low, high = min(per_series), max(per_series)
        growth = per_series[high] / per_series[low]
        print(f"\ncost per series at {high:,} / at {low:,}: {growth:.2f} (1.00 = linear)")
        results.append(
            Result(
                "scrape",
                f"/metrics growth, per-series cost {high:,} vs {low:,} series",
                f"{growth:.2f}",
                "<= 1.5 (linear)",
                verdict(growth <= 1.5),
            )
        )
    write_results(args.json, results, details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
