"""Poll-cycle benchmark: N emulated accounts at 100 ms latency through the real poller and store.

One cycle = every account polled once through ``PollScheduler.poll_now`` (the per-provider
semaphore, the http_json collector on one shared pooled httpx client configured by
``quota_watch.daemon.http_client``, cap/period resolution, one SQLite transaction per poll).
Compared with the ideal ``latency * ceil(N / concurrency)``, with an HTTP-only floor (the same
GETs through the same client and semaphore, nothing parsed or stored) and with a sequential loop.

    python bench/bench_poll_cycle.py            # 500 accounts, caps 100 and 8, 5 cycles each
    python bench/bench_poll_cycle.py --quick    # 2 cycles each, smaller sequential sample
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
import time
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from _common import (
    EmulatorProcess,
    Result,
    add_common_args,
    header,
    ms,
    table,
    verdict,
    write_results,
)

from quota_watch.daemon import build_runtimes, http_client, utcnow
from quota_watch.poller import AccountRuntime, Poller
from quota_watch.scheduler import PollScheduler
from quota_watch.settings import Config, validate_config
from quota_watch.store import Store

TARGET_RATIO = 1.5


@dataclass(frozen=True)
class Cycle:
    """One measured cycle."""

    wall: float
    outcomes: dict[str, int]
    readings: int
    store_seconds: float  # summed time inside Store.record_poll (serialised on SQLite)


class TimedStore:
    """Wraps Store.record_poll on one instance to add up the time spent writing."""

    def __init__(self, store: Store) -> None:
        self.total = 0.0
        self.calls = 0
        original = store.record_poll

        async def record_poll(*args: Any, **kwargs: Any) -> None:
            t0 = time.perf_counter()
            try:
                await original(*args, **kwargs)
            finally:
                self.total += time.perf_counter() - t0
                self.calls += 1

        store.record_poll = record_poll  # type: ignore[method-assign]

    def take(self) -> float:
        """Seconds summed since the last take()."""
        total, self.total = self.total, 0.0
        return total


def load_config(emulator_config: Path, concurrency: int, store_url: str) -> Config:
    """The emulator's daemon config with the bench's store and concurrency cap."""
    data: dict[str, Any] = tomllib.loads(emulator_config.read_text(encoding="utf-8"))
    data["store"] = {"url": store_url}
    data["polling"] = {"max_concurrency_per_provider": concurrency}
    return validate_config(data, None, env={})


async def http_floor(
    client: httpx.AsyncClient, runtimes: dict[str, AccountRuntime], concurrency: int
) -> float:
    """Wall time of the same GETs with the same cap, with nothing parsed or stored."""
    semaphore = asyncio.Semaphore(concurrency)

    async def get(rt: AccountRuntime) -> None:
        options: Any = rt.config.options
        headers = {k: v.get_secret_value() for k, v in options.headers.items()}
        async with semaphore:
            response = await client.get(str(options.url), headers=headers)
            response.raise_for_status()
            await response.aread()

    t0 = time.perf_counter()
    await asyncio.gather(*(get(rt) for rt in runtimes.values()))
    return time.perf_counter() - t0


async def measure(
    emulator_config: Path,
    workdir: Path,
    concurrency: int,
    cycles: int,
    sequential_sample: int,
) -> dict[str, Any]:
    """Run `cycles` full cycles at `concurrency`, the HTTP floor, and a sequential sample."""
    db = workdir / f"poll-c{concurrency}.db"
    config = load_config(emulator_config, concurrency, f"sqlite:///{db}")
    store = await Store.open(config.store_url())
    timed = TimedStore(store)
    results: list[Cycle] = []
    floors: list[float] = []
    sequential: list[float] = []
    try:
        async with http_client(config) as client:
            runtimes = build_runtimes(config, client)
            scheduler = PollScheduler(Poller(store, utcnow), config.settings.polling)
            # Started paused: the interval jobs exist (as in the daemon) but never fire; the
            # bench drives each cycle through poll_now, which takes the provider semaphore.
            scheduler.scheduler.start(paused=True)
            scheduler.set_accounts(runtimes)
            names = sorted(runtimes)
            try:
                for _ in range(cycles):
                    timed.take()
                    t0 = time.perf_counter()
                    polled = await asyncio.gather(*(scheduler.poll_now(n) for n in names))
                    wall = time.perf_counter() - t0
                    outcomes = Counter(p.outcome if p else "skipped" for p in polled)
                    readings = sum(len(p.readings) for p in polled if p)
                    results.append(Cycle(wall, dict(outcomes), readings, timed.take()))
                for _ in range(max(1, min(3, cycles))):
                    floors.append(await http_floor(client, runtimes, concurrency))
                for name in names[:sequential_sample]:
                    t0 = time.perf_counter()
                    await scheduler.poll_now(name)
                    sequential.append(time.perf_counter() - t0)
            finally:
                scheduler.scheduler.shutdown(wait=False)
    finally:
        await store.close()
    return {
        "concurrency": concurrency,
        "accounts": len(runtimes),
        "cycles": results,
        "http_floor": floors,
        "sequential": sequential,
        "db_bytes": db.stat().st_size,
    }


def report(run: dict[str, Any], latency: float) -> tuple[list[Result], list[str]]:
    """Print one concurrency setting's figures; returns its headline results and problems."""
    n, conc = run["accounts"], run["concurrency"]
    ideal = latency * math.ceil(n / conc)
    cycles: list[Cycle] = run["cycles"]
    problems = []
    rows = []
    for i, c in enumerate(cycles, 1):
        bad = {k: v for k, v in c.outcomes.items() if k != "success"}
        if bad:
            problems.append(f"cap {conc}, cycle {i}: non-success outcomes {bad}")
        rows.append(
            (
                f"{i}{' (creates series)' if i == 1 else ''}",
                ms(c.wall),
                f"{c.wall / ideal:.2f}x",
                f"{n / c.wall:.0f}",
                c.readings,
                ms(c.store_seconds / n),
                f"{c.store_seconds / c.wall:.0%}",
            )
        )
    print(f"## per-provider concurrency cap {conc}: {n} accounts, latency {ms(latency)}")
    print(f"ideal = latency x ceil(N / cap) = {ms(ideal)}")
    print(
        table(
            [
                "cycle",
                "wall",
                "vs ideal",
                "polls/s",
                "readings",
                "store write/poll",
                "store busy",
            ],
            rows,
        )
    )
    steady = [c.wall for c in cycles[1:]] or [cycles[0].wall]
    steady_best, steady_worst = min(steady), max(steady)
    floor = min(run["http_floor"])
    seq = run["sequential"]
    seq_per_poll = sum(seq) / len(seq)
    seq_total = seq_per_poll * n
    print(
        f"HTTP-only floor (same GETs, same client and cap, nothing parsed or stored): "
        f"{ms(floor)} = {floor / ideal:.2f}x ideal"
    )
    print(
        f"sequential: {ms(seq_per_poll)} per poll measured over {len(seq)} accounts -> "
        f"{seq_total:.1f} s for {n} (computed N x latency = {n * latency:.1f} s); "
        f"steady cycle is {seq_total / steady_best:.0f}x faster"
    )
    print(f"SQLite file after {len(cycles)} cycles: {run['db_bytes'] / 2**20:.1f} MiB")
    print()
    ratio = steady_worst / ideal
    results = [
        Result(
            "poll cycle",
            f"{n} accounts, cap {conc}, steady cycle (worst of {len(steady)})",
            f"{ms(steady_worst)} = {ratio:.2f}x ideal ({ms(ideal)})",
            f"<= {TARGET_RATIO}x ideal",
            verdict(ratio <= TARGET_RATIO),
        ),
        Result(
            "poll cycle",
            f"{n} accounts, cap {conc}, first cycle (creates series)",
            f"{ms(cycles[0].wall)} = {cycles[0].wall / ideal:.2f}x ideal",
        ),
        Result(
            "poll cycle",
            f"{n} accounts, cap {conc}, vs sequential",
            f"{seq_total / steady_best:.0f}x faster ({seq_total:.1f} s sequential)",
        ),
    ]
    return results, problems


def main(argv: list[str] | None = None) -> int:
    """Run the bench and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(parser)
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.1, help="emulated seconds per answer")
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=[100, 8],
        help="per-provider caps to measure (default: 100 and the default 8)",
    )
    parser.add_argument("--cycles", type=int, default=None, help="cycles per cap (default 5)")
    args = parser.parse_args(argv)
    cycles = args.cycles or (2 if args.quick else 5)
    sample = 10 if args.quick else 30
    header(
        "poll cycle",
        f"{args.accounts} http_json accounts on the emulator (own process, latency "
        f"{ms(args.latency)}, 4 readings per poll), SQLite store in a temp dir (WAL), "
        f"{cycles} cycles per concurrency cap.",
    )
    results: list[Result] = []
    problems: list[str] = []
    details: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="qw-bench-poll-") as tmp:
        workdir = Path(tmp)
        with EmulatorProcess(workdir, args.accounts, latency=args.latency) as emulator:
            for conc in args.concurrency:
                cpu0 = emulator.cpu_seconds()
                run = asyncio.run(measure(emulator.config_path, workdir, conc, cycles, sample))
                got, bad = report(run, args.latency)
                print(f"(emulator process used {emulator.cpu_seconds() - cpu0:.1f} s CPU)\n")
                results += got
                problems += bad
                details[f"cap{conc}"] = {
                    "cycles": [c.__dict__ for c in run["cycles"]],
                    "http_floor": run["http_floor"],
                    "sequential_mean": sum(run["sequential"]) / len(run["sequential"]),
                }
    write_results(args.json, results, details)
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
