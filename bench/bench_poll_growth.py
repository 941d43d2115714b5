"""Per-poll memory growth of the daemon, by allocation site (tracemalloc), in-process.

The real Daemon runs in this process against N emulated http_json accounts polled every
interval; after a warm-up, tracemalloc snapshots are taken at two poll counts and the sites
whose live memory grew most are listed, with the growth per 1,000 polls.

    python bench/bench_poll_growth.py                   # 40 accounts every second, 4,000 polls
    python bench/bench_poll_growth.py --quick           # 20 accounts, 1,000 polls
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
import tomllib
import tracemalloc
from pathlib import Path
from typing import Any

import tomli_w
from _common import Result, add_common_args, free_port, header, table, write_results

from quota_watch.config.load import load_config
from quota_watch.daemon.process import Daemon
from quota_watch.testing.emulator import Emulator, demo_accounts


async def polls_done(daemon: Daemon) -> int:
    """Polls finished so far, from the daemon's in-memory poll counters."""
    return sum(s.runs_total for s in daemon.live._statuses.values())


async def drive(daemon: Daemon, warmup: int, measured: int) -> dict[str, Any]:
    """Run the daemon; snapshot after `warmup` polls and again `measured` polls later."""
    task = asyncio.create_task(daemon.run())

    async def until(count: int) -> None:
        while await polls_done(daemon) < count:
            if task.done():
                raise RuntimeError(f"daemon stopped: {task.result()}")
            await asyncio.sleep(0.2)

    await until(warmup)
    gc.collect()
    first, at_first = tracemalloc.take_snapshot(), await polls_done(daemon)
    await until(warmup + measured)
    gc.collect()
    second, at_second = tracemalloc.take_snapshot(), await polls_done(daemon)
    daemon.stop.set()
    await task
    return {"first": first, "second": second, "polls": at_second - at_first}


def main(argv: list[str] | None = None) -> int:
    """Run the bench and print its figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add_common_args(parser)
    parser.add_argument("--accounts", type=int, default=None)
    parser.add_argument("--interval", default="1s")
    parser.add_argument("--polls", type=int, default=None, help="measured polls")
    args = parser.parse_args(argv)
    accounts = args.accounts or (20 if args.quick else 40)
    measured = args.polls or (1000 if args.quick else 4000)
    warmup = accounts * 20
    header(
        "per-poll memory growth (tracemalloc)",
        f"In-process daemon, {accounts} http_json accounts every {args.interval}, SQLite; "
        f"snapshots after {warmup} polls and {measured} polls later.",
    )
    with (
        tempfile.TemporaryDirectory(prefix="qw-bench-growth-") as tmp,
        Emulator(demo_accounts(accounts), seed=4) as emulator,
    ):
        document: dict[str, Any] = tomllib.loads(
            emulator.config_toml(
                interval=args.interval,
                store_url=f"sqlite:///{Path(tmp) / 'growth.db'}",
                listen=f"127.0.0.1:{free_port()}",
            )
        )
        document["logging"] = {"level": "warning"}
        path = Path(tmp) / "growth.toml"
        path.write_text(tomli_w.dumps(document), encoding="utf-8")
        tracemalloc.start(8)
        daemon = Daemon(load_config(path))
        found = asyncio.run(drive(daemon, warmup, measured))
        tracemalloc.stop()
    polls = found["polls"]
    stats = found["second"].compare_to(found["first"], "traceback")
    total = sum(s.size_diff for s in stats)
    rows = []
    for stat in sorted(stats, key=lambda s: s.size_diff, reverse=True)[:12]:
        frames = [
            f"{Path(f.filename).parent.name}/{Path(f.filename).name}:{f.lineno}"
            for f in stat.traceback
            if "tracemalloc" not in f.filename
        ]
        rows.append(
            (
                f"{stat.size_diff / 1024:+.1f} KiB",
                f"{stat.count_diff:+d}",
                " < ".join(reversed(frames[-4:])),
            )
        )
    print(table(["growth", "blocks", "where (innermost first)"], rows))
    per_1000 = total / max(polls, 1) * 1000
    print(
        f"\n{polls} polls measured; traced memory {total / 1024:+.1f} KiB in all, "
        f"{per_1000 / 1024:+.1f} KiB per 1,000 polls"
    )
    write_results(
        args.json,
        [Result("growth", "traced memory growth per 1,000 polls", f"{per_1000 / 1024:+.1f} KiB")],
        {"polls": polls, "total_bytes": total},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
