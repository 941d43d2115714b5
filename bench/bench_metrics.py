"""/metrics benchmark: scrape time of the real daemon with 10,000 stored series, and its parts.

The real daemon (`python -m quota_watch run`, subprocess) polls N emulated http_json accounts
with 10 limits each once (interval 1h), so its own Store.record_poll writes N x 10 series. Then:

(c) full HTTP scrapes of the daemon's /metrics (fresh connection each, time to the last byte);
(a) Store.latest(accounts=...) + Store.account_statuses(), as Daemon.snapshot does, in-process
    on the same SQLite file after the daemon stopped;
(b) quota_watch.prometheus.exposition.render() of that snapshot.

    python bench/bench_metrics.py              # 200 and 1,000 accounts, 20 scrapes each
    python bench/bench_metrics.py --quick      # 1,000 accounts, 5 scrapes
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

import tomli_w
from _common import (
    BenchDaemon,
    Result,
    add_common_args,
    free_port,
    header,
    median,
    mib,
    ms,
    percentile,
    profile_by_package,
    rss_bytes,
    sqlite_count,
    table,
    verdict,
    write_results,
)

from quota_watch.prometheus.exposition import AccountFacts, Snapshot, render
from quota_watch.sdk import Measure, Unit
from quota_watch.store.facade import Store
from quota_watch.testing.emulator import EmulatedAccount, EmulatedLimit, Emulator

TARGET_SECONDS = 0.100
LIMITS_PER_ACCOUNT = 10


def bench_limits(spread: float) -> dict[str, EmulatedLimit]:
    """Ten account-wide limits in every unit and period kind; two have no cap."""
    count, bytes_, seconds = Unit.COUNT, Unit.BYTES, Unit.SECONDS
    cumulative, level = Measure.CUMULATIVE, Measure.LEVEL

    def limit(
        start: float, cap: float | None, unit: Unit, measure: Measure, period: str
    ) -> EmulatedLimit:
        return EmulatedLimit(
            start_value=start * spread,
            growth_per_hour=start * spread / 10,
            cap=cap,
            unit=unit,
            measure=measure,
            period=period,
        )

    return {
        "requests": limit(5_000, 100_000, count, cumulative, "daily"),
        "kv_reads": limit(20_000, 100_000, count, cumulative, "daily"),
        "kv_writes": limit(200, 1_000, count, cumulative, "daily"),
        "builds": limit(40, 500, count, cumulative, "calendar_month"),
        "db_rows": limit(1e5, None, count, level, "none"),
        "storage": limit(1e8, 5e8, bytes_, level, "none"),
        "egress": limit(1e9, 1e11, bytes_, cumulative, "calendar_month"),
        "bandwidth": limit(1e7, None, bytes_, cumulative, "daily"),
        "cpu_time": limit(3_600, 36_000, seconds, cumulative, "daily"),
        "function_seconds": limit(1e4, 3.6e5, seconds, cumulative, "calendar_month"),
    }


def bench_accounts(count: int) -> list[EmulatedAccount]:
    """`count` accounts "m-0001"... with LIMITS_PER_ACCOUNT limits each."""
    return [
        EmulatedAccount(f"m-{i:04d}", f"metrics-token-{i:04d}", bench_limits(1 + (i % 7) / 7))
        for i in range(1, count + 1)
    ]


def stats(values: list[float]) -> str:
    """Median and p95 in ms."""
    return f"{ms(median(values))} / {ms(percentile(values, 95))}"


async def in_process(db: Path, names: list[str], repeats: int, profile: bool) -> dict[str, Any]:
    """Time (a) the snapshot reads and (b) render() in this process, on the daemon's file."""
    store = await Store.open(f"sqlite:///{db}", readonly=True)
    facts = [AccountFacts("http_json", n, None, 3600.0) for n in sorted(names)]
    wanted = set(names)
    reads: list[float] = []
    renders: list[float] = []
    body = b""
    profiled = ""

    async def snapshot() -> Snapshot:
        readings = await store.latest(accounts=wanted)
        statuses = [s for s in await store.account_statuses() if s.account in wanted]
        return Snapshot(readings=readings, statuses=statuses, accounts=facts)

    try:
        await snapshot()  # warm: SQLAlchemy's statement cache, SQLite's page cache
        for _ in range(repeats):
            t0 = time.perf_counter()
            snap = await snapshot()
            t1 = time.perf_counter()
            body = render(snap)
            t2 = time.perf_counter()
            reads.append(t1 - t0)
            renders.append(t2 - t1)
        if profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(3):
                render(await snapshot())
            profiler.disable()
            profiled = profile_by_package(profiler)
    finally:
        await store.close()
    return {
        "reads": reads,
        "renders": renders,
        "readings": len(snap.readings),
        "bytes": len(body),
        "profile": profiled,
    }


def populate_and_scrape(
    workdir: Path, count: int, scrapes: int
) -> tuple[Path, list[str], dict[str, Any]]:
    """Start the emulator and the daemon, let it poll every account once, then scrape it."""
    accounts = bench_accounts(count)
    names = [a.name for a in accounts]
    db = workdir / f"metrics-{count}.db"
    port = free_port()
    with Emulator(accounts, seed=3) as emulator:
        document: dict[str, Any] = tomllib.loads(
            emulator.config_toml(
                interval="1h", store_url=f"sqlite:///{db}", listen=f"127.0.0.1:{port}"
            )
        )
        document["polling"] = {"max_concurrency_per_provider": 50}
        document["logging"] = {"level": "warning"}
        config = workdir / f"metrics-{count}.toml"
        config.write_text(tomli_w.dumps(document), encoding="utf-8")
        with BenchDaemon(workdir, config, port) as daemon:
            t0 = time.perf_counter()
            daemon.wait_serving()
            want = count * LIMITS_PER_ACCOUNT
            deadline = time.monotonic() + 300
            while True:
                daemon.check_alive()
                polled = sqlite_count(db, "SELECT count(*) FROM account_status")
                series = sqlite_count(db, "SELECT count(*) FROM series")
                if polled >= count and series >= want:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {polled} accounts / {series} series after 300 s")
                time.sleep(0.2)
            populate = time.perf_counter() - t0
            rss_before = rss_bytes(daemon.pid)
            for _ in range(2):  # warm-up scrapes (first use of statements and code paths)
                daemon.timed_get("/metrics")
            walls: list[float] = []
            sizes: list[int] = []
            lines = 0
            for _ in range(scrapes):
                status, body, wall = daemon.timed_get("/metrics")
                if status != 200:
                    raise RuntimeError(f"/metrics answered {status}")
                walls.append(wall)
                sizes.append(len(body))
                lines = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
            rss = rss_bytes(daemon.pid)
            code = daemon.stop(timeout=60)
            if code != 0:
                raise RuntimeError(f"daemon exited {code}:\n{daemon.log()}")
    return (
        db,
        names,
        {
            "scrapes": walls,
            "bytes": sizes,
            "sample_lines": lines,
            "series": sqlite_count(db, "SELECT count(*) FROM series"),
            "populate_seconds": populate,
            "rss_before": rss_before,
            "rss": rss,
        },
    )


def main(argv: list[str] | None = None) -> int:
    """Run the bench and print its figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add_common_args(parser)
    parser.add_argument(
        "--accounts",
        type=int,
        nargs="+",
        default=None,
        help=f"account counts ({LIMITS_PER_ACCOUNT} series each); default 200 1000",
    )
    parser.add_argument("--scrapes", type=int, default=None, help="timed scrapes (default 20)")
    parser.add_argument("--profile", action="store_true", help="cProfile (a)+(b), by package")
    args = parser.parse_args(argv)
    sizes = args.accounts or ([1000] if args.quick else [200, 1000])
    scrapes = args.scrapes or (5 if args.quick else 20)
    header(
        "/metrics scrape",
        f"Real daemon on SQLite, {LIMITS_PER_ACCOUNT} limits per account (3 units, 4 period "
        f"kinds, 2 uncapped), {scrapes} timed scrapes after 2 warm-up ones. A stored series "
        "gives up to 5 exposition samples (usage, limit, utilization, period start/end); each "
        "account adds 6 more (collector_*, account_info). Times are median / p95.",
    )
    results: list[Result] = []
    details: dict[str, Any] = {}
    for count in sizes:
        with tempfile.TemporaryDirectory(prefix="qw-bench-metrics-") as tmp:
            db, names, scraped = populate_and_scrape(Path(tmp), count, scrapes)
            local = asyncio.run(in_process(db, names, scrapes, args.profile))
        series = scraped["series"]
        print(
            f"## {count} accounts: {series} stored series, {scraped['sample_lines']} exposition "
            f"samples, {mib(median(scraped['bytes']))} per scrape (uncompressed)"
        )
        print(f"daemon polled every account once in {scraped['populate_seconds']:.1f} s")
        print(
            table(
                ["what", "median / p95", "includes"],
                [
                    (
                        "(c) HTTP scrape of the daemon",
                        stats(scraped["scrapes"]),
                        "TCP connect, store reads, render, uvicorn, transfer",
                    ),
                    (
                        "(a) latest() + account_statuses()",
                        stats(local["reads"]),
                        f"{local['readings']} readings, in-process",
                    ),
                    (
                        "(b) exposition.render()",
                        stats(local["renders"]),
                        f"{local['bytes']} bytes, in-process",
                    ),
                ],
            )
        )
        print(
            f"daemon RSS: {mib(scraped['rss_before'])} before the first scrape, "
            f"{mib(scraped['rss'])} after {scrapes + 2} scrapes"
        )
        if local["profile"]:
            print("\ncProfile of (a)+(b), own time by package:")
            print(local["profile"])
        print()
        p95 = percentile(scraped["scrapes"], 95)
        results.append(
            Result(
                "metrics",
                f"/metrics scrape, {series} series ({scraped['sample_lines']} samples), p95",
                f"{ms(p95)} (median {ms(median(scraped['scrapes']))}), "
                f"{mib(median(scraped['bytes']))}",
                f"< {ms(TARGET_SECONDS)}",
                verdict(p95 < TARGET_SECONDS),
                f"reads {ms(median(local['reads']))} + render "
                f"{ms(median(local['renders']))} (medians)",
            )
        )
        details[str(count)] = {**scraped, **{k: v for k, v in local.items() if k != "profile"}}
    write_results(args.json, results, details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
