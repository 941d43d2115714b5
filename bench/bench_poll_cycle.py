"""Poll-cycle benchmark: N emulated accounts at 100 ms latency through the real poller and store.

One cycle = every account polled once through ``PollScheduler.poll_now`` (the per-provider
semaphore, the http_json collector on one shared pooled httpx client configured by
``quota_watch.collect.runtime.http_client``, cap/period resolution, the store's group-commit
write).
Compared with the ideal ``latency * ceil(N / concurrency)``, with an HTTP-only floor (the same
GETs through the same client and semaphore, nothing parsed or stored), with a sequential loop,
and CPU per poll with a bare poller with and without a stdlib sqlite3 store.

    python bench/bench_poll_cycle.py            # 500 accounts, caps 100 and 8, 5 cycles each
    python bench/bench_poll_cycle.py --quick    # 2 cycles each, smaller sequential sample
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import math
import sys
import tempfile
import time
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
from _bare_peer import bare_peer
from _common import (
    EmulatorProcess,
    Result,
    add_common_args,
    header,
    median,
    ms,
    profile_by_package,
    table,
    verdict,
    write_results,
)

from quota_watch.collect.poller import Poller
from quota_watch.collect.runtime import AccountRuntime, build_runtimes, http_client, utcnow
from quota_watch.collect.scheduler import PollScheduler
from quota_watch.config.load import validate_config
from quota_watch.config.settings import Config
from quota_watch.daemon.alerting import Alerting
from quota_watch.daemon.memory import freeze_heap
from quota_watch.store.facade import Store

TARGET_RATIO = 1.5
PEER_TARGET = 2.0  # CPU per poll vs the bare poller + stdlib sqlite3 store (issue #16)


@dataclass(frozen=True)
class Cycle:
    """One measured cycle."""

    wall: float
    cpu: float  # process CPU time (all threads: the event loop and aiosqlite's worker)
    outcomes: dict[str, int]
    readings: int
    lock_held: float | None  # summed time the SQLite write lock was held (None: no lock)


class TimedLock(asyncio.Lock):
    """An asyncio.Lock that adds up how long it is held (the store's SQLite writer lock)."""

    def __init__(self) -> None:
        super().__init__()
        self.held = 0.0
        self._since = 0.0

    async def acquire(self) -> Literal[True]:
        """Acquire, then start the clock."""
        await super().acquire()
        self._since = time.perf_counter()
        return True

    def release(self) -> None:
        """Stop the clock, then release."""
        self.held += time.perf_counter() - self._since
        super().release()

    def take(self) -> float:
        """Seconds held since the last take()."""
        held, self.held = self.held, 0.0
        return held


def time_write_lock(store: Store) -> TimedLock | None:
    """Swap the store's SQLite writer lock for a timed one (a diagnostic; None if it has none).

    Store._write_lock is private: if the store stops having one, the bench reports no
    lock figures rather than failing.
    """
    if getattr(store, "_write_lock", None) is None:
        return None
    lock = TimedLock()
    store._write_lock = lock
    return lock


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
    profile: bool,
    alerting: bool,
) -> dict[str, Any]:
    """Run `cycles` full cycles at `concurrency`, the HTTP floor, and a sequential sample."""
    db = workdir / f"poll-c{concurrency}.db"
    config = load_config(emulator_config, concurrency, f"sqlite:///{db}")
    store = await Store.open(config.store_url())
    lock = time_write_lock(store)
    results: list[Cycle] = []
    floors: list[float] = []
    sequential: list[float] = []
    bare: list[float] = []
    bare_sqlite: list[float] = []
    bare_plain: list[float] = []
    profiled = ""
    try:
        async with http_client(config) as client:
            runtimes = build_runtimes(config, client)
            # As in the daemon: the rules are evaluated right after each poll (on_result).
            after_poll = Alerting(store, config, utcnow).after_poll if alerting else None
            scheduler = PollScheduler(Poller(store, utcnow), config.settings.polling, after_poll)
            # Started paused: the interval jobs exist (as in the daemon) but never fire; the
            # bench drives each cycle through poll_now, which takes the provider semaphore.
            scheduler.scheduler.start(paused=True)
            scheduler.set_accounts(runtimes)
            freeze_heap()  # as the daemon does once started
            names = sorted(runtimes)

            async def cycle() -> Cycle:
                if lock is not None:
                    lock.take()
                cpu0, t0 = time.process_time(), time.perf_counter()
                polled = await asyncio.gather(*(scheduler.poll_now(n) for n in names))
                wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
                outcomes = Counter(p.outcome if p else "skipped" for p in polled)
                readings = sum(len(p.readings) for p in polled if p)
                held = lock.take() if lock is not None else None
                return Cycle(wall, cpu, dict(outcomes), readings, held)

            try:
                for _ in range(cycles):
                    results.append(await cycle())
                for _ in range(1 if cycles < 3 else 3):
                    floors.append(await http_floor(client, runtimes, concurrency))
                # The peers, on the same client, accounts and cap; their first cycle creates
                # the series rows too, so it is left out of the median as ours is.
                bare = await bare_peer(client, runtimes, concurrency, cycles, None)
                bare_sqlite = await bare_peer(
                    client, runtimes, concurrency, cycles, workdir / f"bare-c{concurrency}.db"
                )
                # The bare poller as one would write it: httpx's default client (one pool).
                async with httpx.AsyncClient() as plain:
                    bare_plain = await bare_peer(plain, runtimes, concurrency, cycles, None)
                for name in names[:sequential_sample]:
                    t0 = time.perf_counter()
                    await scheduler.poll_now(name)
                    sequential.append(time.perf_counter() - t0)
                if profile:
                    profiler = cProfile.Profile()
                    profiler.enable()
                    await cycle()
                    profiler.disable()
                    profiled = profile_by_package(profiler)
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
        "bare": bare,
        "bare_sqlite": bare_sqlite,
        "bare_plain": bare_plain,
        "db_bytes": db.stat().st_size,
        "profile": profiled,
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
                ms(c.cpu / n),
                f"{c.cpu / c.wall:.0%}",
                "-" if c.lock_held is None else ms(c.lock_held / n),
                "-" if c.lock_held is None else f"{c.lock_held / c.wall:.0%}",
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
                "CPU/poll",
                "CPU/wall",
                "write lock/poll",
                "write lock busy",
            ],
            rows,
        )
    )
    steady_cycles = cycles[1:] or cycles
    steady = [c.wall for c in steady_cycles]
    steady_best, steady_worst = min(steady), max(steady)
    cpu_per_poll = median([c.cpu / n for c in steady_cycles])
    floor = min(run["http_floor"])
    seq = run["sequential"]
    seq_per_poll = sum(seq) / len(seq)
    seq_total = seq_per_poll * n
    print(
        f"HTTP-only floor (same GETs, same client and cap, nothing parsed or stored): "
        f"{ms(floor)} = {floor / ideal:.2f}x ideal"
    )
    print(
        f"CPU floor on one event loop: N x CPU/poll = {n} x {ms(cpu_per_poll)} = "
        f"{n * cpu_per_poll:.2f} s = {n * cpu_per_poll / ideal:.2f}x ideal"
    )
    print(
        f"sequential: {ms(seq_per_poll)} per poll measured over {len(seq)} accounts -> "
        f"{seq_total:.1f} s for {n} (computed N x latency = {n * latency:.1f} s); "
        f"steady cycle is {seq_total / steady_best:.0f}x faster"
    )
    print(f"SQLite file after {len(cycles)} cycles: {run['db_bytes'] / 2**20:.1f} MiB")
    bare = median(run["bare"][1:] or run["bare"])
    bare_sqlite = median(run["bare_sqlite"][1:] or run["bare_sqlite"])
    bare_plain = median(run["bare_plain"][1:] or run["bare_plain"])
    print(
        "CPU per poll beside the peers (median of the steady cycles; same client, accounts, cap):"
    )
    print(
        table(
            ["poller", "CPU/poll", "ours is"],
            [
                ("bare: httpx + semaphore + json, nothing stored", ms(bare), ""),
                (
                    "bare, on httpx's default client (one pool, not ours), nothing stored",
                    ms(bare_plain),
                    "",
                ),
                (
                    "bare + stdlib sqlite3 (one transaction per poll)",
                    ms(bare_sqlite),
                    f"{cpu_per_poll / bare_sqlite:.2f}x",
                ),
                ("quota-watch (poll + store + rules)", ms(cpu_per_poll), ""),
            ],
        )
    )
    if run["profile"]:
        print("\ncProfile of one more cycle, own time by package (event-loop thread only):")
        print(run["profile"])
    print()
    ratio = steady_worst / ideal
    results = [
        Result(
            "poll cycle",
            f"{n} accounts, cap {conc}: steady cycle (worst of {len(steady)})",
            f"{ms(steady_worst)} = {ratio:.2f}x ideal ({ms(ideal)})",
            f"<= {TARGET_RATIO}x ideal",
            verdict(ratio <= TARGET_RATIO),
            f"CPU {ms(cpu_per_poll)}/poll",
        ),
        Result(
            "poll cycle",
            f"{n} accounts, cap {conc}: CPU/poll vs bare poller + sqlite3",
            f"{ms(cpu_per_poll)} = {cpu_per_poll / bare_sqlite:.2f}x ({ms(bare_sqlite)}; "
            f"bare without a store {ms(bare)})",
            f"<= {PEER_TARGET}x",
            verdict(cpu_per_poll <= PEER_TARGET * bare_sqlite),
        ),
        Result(
            "poll cycle",
            f"{n} accounts, cap {conc}: first cycle (creates series)",
            f"{ms(cycles[0].wall)} = {cycles[0].wall / ideal:.2f}x ideal",
        ),
        Result(
            "poll cycle",
            f"{n} accounts, cap {conc}: vs sequential",
            f"{seq_total / steady_best:.0f}x faster ({seq_total:.1f} s sequential)",
        ),
    ]
    return results, problems


def main(argv: list[str] | None = None) -> int:
    """Run the bench and print its figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
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
    parser.add_argument(
        "--profile", action="store_true", help="cProfile one extra cycle per cap, by package"
    )
    parser.add_argument(
        "--no-alerting",
        action="store_true",
        help="leave out the rules evaluation the daemon runs after each poll",
    )
    args = parser.parse_args(argv)
    cycles = args.cycles or (2 if args.quick else 5)
    sample = 10 if args.quick else 30
    header(
        "poll cycle",
        f"{args.accounts} http_json accounts on the emulator (own process, latency "
        f"{ms(args.latency)}, 4 readings per poll), SQLite store in a temp dir (WAL), "
        f"{cycles} cycles per concurrency cap. Wall time of asyncio.gather(poll_now(a) for "
        "every account): HTTP GET, JSON + JMESPath mapping, cap/period resolution, the "
        "store write (polls that finish together share one group-commit transaction)"
        + (
            ""
            if args.no_alerting
            else ", then the rules evaluation the daemon runs after each poll (Alerting."
            "after_poll: the rules on each series' in-memory window, the account's status "
            "from the poll's own write and its open alerts from memory, alert state written)"
        )
        + ". CPU = process CPU time (all threads).",
    )
    results: list[Result] = []
    problems: list[str] = []
    details: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="qw-bench-poll-") as tmp:
        workdir = Path(tmp)
        with EmulatorProcess(workdir, args.accounts, latency=args.latency) as emulator:
            for conc in args.concurrency:
                cpu0 = emulator.cpu_seconds()
                run = asyncio.run(
                    measure(
                        emulator.config_path,
                        workdir,
                        conc,
                        cycles,
                        sample,
                        args.profile,
                        not args.no_alerting,
                    )
                )
                got, bad = report(run, args.latency)
                print(f"(the emulator process used {emulator.cpu_seconds() - cpu0:.1f} s CPU)\n")
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
