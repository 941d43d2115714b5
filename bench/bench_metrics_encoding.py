"""/metrics body size and encoding cost: text vs OpenMetrics, identity vs gzip, at N series.

In-process on a synthetic snapshot (N accounts x 10 limits, each with cap, period bounds and a
forecast, plus one poll status per account): no daemon, no store, only
quota_watch.prometheus.exposition.render and render_body (the body the daemon serves).
The peers are gzip at level 6 (zlib's default) and 9 (prometheus-client's choice) beside
our level 1.

    python bench/bench_metrics_encoding.py              # 1,000 accounts = 10,000 series
    python bench/bench_metrics_encoding.py --accounts 100
"""

from __future__ import annotations

import argparse
import gzip
import time
from datetime import UTC, datetime, timedelta

from _common import header, mib, ms, table

from quota_watch.daemon.selfstats import process_stats
from quota_watch.model import AccountStatus
from quota_watch.prometheus.exposition import (
    AccountFacts,
    ForecastFacts,
    Snapshot,
    render,
    render_body,
)
from quota_watch.prometheus.negotiate import GZIP_LEVEL, negotiate
from quota_watch.store.models import StoredReading

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
LIMITS = ("requests", "kv_reads", "kv_writes", "builds", "db_rows", "storage", "egress",
          "bandwidth", "cpu_time", "function_seconds")  # fmt: skip
UNITS = ("count", "count", "count", "count", "count", "bytes", "bytes", "bytes", "seconds",
         "seconds")  # fmt: skip


def snapshot(accounts: int) -> Snapshot:
    """N accounts x 10 limits, every optional series present."""
    readings, statuses, facts, forecasts = [], [], [], {}
    for i in range(accounts):
        name = f"acct-{i:04d}"
        for j, (limit, unit) in enumerate(zip(LIMITS, UNITS, strict=True)):
            readings.append(
                StoredReading(
                    provider="http_json",
                    account=name,
                    limit=limit,
                    resource=None,
                    unit=unit,
                    measure="cumulative",
                    value=1234.5 * (i + 1) * (j + 1),
                    cap=1e6 * (j + 1),
                    cap_source="catalogue",
                    period_start=NOW - timedelta(days=21),
                    period_end=NOW + timedelta(days=9),
                    ts=NOW,
                )
            )
            forecasts[(name, limit, None)] = ForecastFacts(0.5 + j / 40, NOW + timedelta(days=j))
        statuses.append(
            AccountStatus("http_json", name, NOW, NOW, "success", None, 0.12, 100 + i, i % 3, 0)
        )
        facts.append(AccountFacts("http_json", name, None, 300.0))
    return Snapshot(
        readings=readings,
        statuses=statuses,
        accounts=facts,
        forecasts=forecasts,
        process=process_stats(),
    )


def best_of(repeats: int, fn: object) -> float:
    """Fastest of `repeats` calls, in seconds."""
    assert callable(fn)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    header("/metrics encoding", f"{args.accounts} accounts x {len(LIMITS)} limits, in-process")
    snap = snapshot(args.accounts)
    text, openmetrics = render(snap), render(snap, openmetrics=True)
    rows = []
    for label, body in (("text 0.0.4", text), ("OpenMetrics 1.0.0", openmetrics)):
        render_s = best_of(args.repeats, lambda om=body is openmetrics: render(snap, om))
        for level in (GZIP_LEVEL, 6, 9):
            packed = gzip.compress(body, compresslevel=level, mtime=0)
            gzip_s = best_of(args.repeats, lambda b=body, lv=level: gzip.compress(b, lv, mtime=0))
            rows.append(
                (
                    label,
                    f"gzip -{level}" + (" (ours)" if level == GZIP_LEVEL else " (peer)"),
                    mib(len(body)),
                    f"{len(packed) / 1024:.0f} KiB",
                    f"{len(body) / len(packed):.1f}x",
                    ms(render_s),
                    ms(gzip_s),
                )
            )
    print(table(("format", "encoding", "body", "on the wire", "saving", "render", "gzip"), rows))
    chosen = negotiate("application/openmetrics-text", "gzip")
    served = render_body(snap, chosen.openmetrics).gzip(GZIP_LEVEL)
    print(f"\nas served to Prometheus (OpenMetrics + gzip): {len(served)} bytes")


if __name__ == "__main__":
    main()
