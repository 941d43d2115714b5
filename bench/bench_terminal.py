"""The report's terminal table (quota_watch.reporting.terminal) beside a Markdown rendering
of the same entries (plain string joins), for 100 accounts x 4 limits, at 80, 100 and 160 columns.

    python bench/bench_terminal.py              # 400 rows, best of 5
    python bench/bench_terminal.py --rows 40    # a smaller report
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from quota_watch.reporting.entries import Entry
from quota_watch.reporting.render import to_markdown, to_table
from quota_watch.status.rows import Row

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
LIMITS = (
    ("workers_requests", "count", 100_000.0, "requests"),
    ("workers_cpu_p99", "seconds", 0.01, "ms"),
    ("r2_storage", "bytes", 10e9, None),
    ("build_minutes", "seconds", 300 * 60.0, "minutes"),
)


def entries(count: int) -> list[Entry]:
    """`count` rows over accounts of 4 limits each, utilizations spread over 0-110 %."""
    found = []
    for i in range(count):
        limit, unit, cap, display = LIMITS[i % len(LIMITS)]
        share = (i * 37 % 111) / 100
        row = Row(
            provider="cloudflare",
            account=f"acct-{i // len(LIMITS):03d}",
            limit=limit,
            resource=None,
            value=cap * share,
            cap=cap,
            cap_source="catalogue",
            unit=unit,
            utilization=share,
            period_start=NOW - timedelta(hours=12),
            period_end=NOW + timedelta(hours=12),
            status="critical" if share >= 1 else "warning" if share >= 0.8 else "ok",
            forecast_value=cap * share * 1.3,
            forecast_utilization=share * 1.3,
            exhausts_at=NOW + timedelta(hours=5) if share > 0.7 else None,
            resets_at=NOW + timedelta(hours=12),
            as_of=NOW,
            display_unit=display,
        )
        trend = tuple(cap * share * d / 15 for d in range(1, 16))
        found.append(Entry(row, "edge" if i % 8 < 4 else None, trend))
    return found


def best_ms(render: Callable[[], str], repeats: int) -> float:
    """The fastest of `repeats` renders, in milliseconds."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        render()
        times.append((time.perf_counter() - t0) * 1000)
    return min(times)


def main() -> None:
    """Print the render times and their ratio to the Markdown rendering."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = entries(args.rows)
    advice = ["Pool edge (cloudflare): add 1 shard account before 2026-12-03 20:23 UTC. " * 3]
    to_table(rows, NOW, advice, width=120)  # warm the imports
    peer = best_ms(lambda: to_markdown(rows, NOW, advice), args.repeats)
    print(f"{args.rows} rows, best of {args.repeats}")
    print(f"  markdown (peer, string joins)   {peer:8.1f} ms")
    for width in (80, 100, 160):
        took = best_ms(lambda w=width: to_table(rows, NOW, advice, width=w), args.repeats)
        ratio = took / peer
        print(f"  terminal table at {width:>3} columns {took:8.1f} ms  ({ratio:.1f}x markdown)")
    took = best_ms(lambda: to_table(rows, NOW, advice, width=160, colour=True), args.repeats)
    print(f"  the same in colour, 160 columns {took:8.1f} ms  ({took / peer:.1f}x markdown)")


if __name__ == "__main__":
    main()
