"""The shard-pool demo: three emulated Cloudflare accounts in one pool, a day of real history.

Starts the Cloudflare emulator (`cloudflare_emulator`) on loopback with the accounts `cf-a`,
`cf-b` and `cf-c` in group `edge`, writes a daemon config for them (`DIR/demo.toml`, store
`DIR/demo.db`), then builds history with the daemon's own poll path: the real `cloudflare`
collector polls the emulator over HTTP, `Poller` stores each poll, and `Alerting.after_poll`
evaluates the rules, on a clock stepping from 00:00 UTC (or `--hours` back) to now every
`--step`. The emulator follows the same clock. Nothing leaves the loopback interface.

Workers requests grow so that the pool's daily total is about 2.5x one account's free cap
(100,000 a day): ceil(252,000 / (100,000 x 0.7)) = 4 shards. `cf-c` runs hot (about 1.2x its cap
by the end of the day); `cf-a` and `cf-b` have room. Then::

    quota-watch plan -c DIR/demo.toml
    quota-watch report -c DIR/demo.toml

Usage::

    python -m quota_watch.testing.demo --dir /tmp/qw-demo
    python -m quota_watch.testing.demo --dir /tmp/qw-demo --now 2026-11-22T15:00:00Z --step 10m
    python -m quota_watch.testing.demo --dir /tmp/qw-demo --serve   # then run the daemon on it
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import tomli_w
from quota_watch_collectors.cloudflare.emulator import (
    CloudflareAccount,
    CloudflareEmulator,
    Rate,
)

from quota_watch.collect.poller import Poller, PollResult
from quota_watch.collect.runtime import build_runtimes, http_client
from quota_watch.config.errors import ConfigError
from quota_watch.config.load import load_config
from quota_watch.daemon.alerting import Alerting
from quota_watch.sdk import parse_duration
from quota_watch.store.facade import Store
from quota_watch.testing.emulator import ManualClock

__all__ = [
    "DEMO_GROUP",
    "DEMO_PROFILES",
    "DemoProfile",
    "DemoResult",
    "build_history",
    "demo_accounts",
    "demo_config",
    "main",
    "run_demo",
]

DEMO_GROUP = "edge"
CONFIG_NAME = "demo.toml"
STORE_NAME = "demo.db"


@dataclass(frozen=True)
class DemoProfile:
    """One demo account: Workers requests over the day of `now`, growth per day, load scale."""

    requests_per_day: float
    growth: float
    scale: float  # the other counters and storage, relative to a typical account


DEMO_PROFILES: dict[str, DemoProfile] = {
    "cf-a": DemoProfile(requests_per_day=64_000, growth=1.02, scale=0.9),
    "cf-b": DemoProfile(requests_per_day=68_000, growth=1.02, scale=1.0),
    "cf-c": DemoProfile(requests_per_day=120_000, growth=1.05, scale=1.4),
}
"""Pool total 252,000 a day (2.52x one cap); cf-c is the hot shard."""


def _hex_id(name: str) -> str:
    # A stable, made-up 32-hex account ID per demo account.
    return hashlib.sha256(f"quota-watch-demo/{name}".encode()).hexdigest()[:32]


def demo_accounts(now: datetime) -> list[CloudflareAccount]:
    """The three demo accounts; their profiles hit DEMO_PROFILES' totals on the day of `now`."""
    month = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    accounts = []
    for index, (name, profile) in enumerate(DEMO_PROFILES.items()):
        s, g = profile.scale, profile.growth

        def daily(total: float, growth: float = g, scale: float = s) -> Rate:
            return Rate.daily_total(total * scale, growth)

        # One Pages build a day at 09:30 (a different minute per account) since the 1st.
        builds = [
            month + timedelta(days=day, hours=9, minutes=30 + index * 7)
            for day in range((now - month).days + 1)
        ]
        accounts.append(
            CloudflareAccount(
                name=name,
                account_id=_hex_id(name),
                token=f"demo-token-{name}-{_hex_id(name + '/token')[:16]}",
                workers=Rate.daily_total(profile.requests_per_day, g),
                scripts={"api": 0.7, "assets": 0.3},
                pages_functions_share=0.05,
                cpu_time_p99_us=3_800 + 1_500 * index,
                usage={
                    "kv_reads": daily(25_000),
                    "kv_writes": daily(180),
                    "kv_lists": daily(12),
                    "d1_rows_read": daily(1_400_000),
                    "d1_rows_written": daily(9_000),
                    "do_requests": daily(7_500),
                    "do_duration": daily(900),
                    "do_rows_read": daily(40_000),
                    "do_rows_written": daily(1_500),
                    "queues_operations": daily(1_400),
                    "r2_class_a_operations": daily(11_000),
                    "r2_class_b_operations": daily(120_000),
                },
                storage={
                    "r2_storage": {"assets": 1.6e9 * s, "backups": 4.0e8 * s},
                    "kv_storage": {_hex_id(name + "/kv"): 2.4e7 * s},
                    "d1_storage": {f"{_hex_id(name + '/d1')[:8]}-main": 1.2e8 * s},
                    "do_storage": {_hex_id(name + "/do"): 3.0e7 * s},
                },
                pages={f"{name}-site": builds},
            )
        )
    return accounts


def demo_config(
    emulator: CloudflareEmulator,
    directory: Path,
    *,
    interval: timedelta,
    listen: str = "127.0.0.1:9877",
) -> str:
    """A daemon config (TOML) polling every emulated account, all in the `edge` pool."""
    minutes = max(1, round(interval.total_seconds() / 60))
    document: dict[str, Any] = {
        "server": {"listen": listen},
        "store": {"url": f"sqlite:///{(directory / STORE_NAME).resolve()}"},
        "accounts": [
            {
                "name": name,
                "collector": "cloudflare",
                "interval": f"{minutes}m",
                "group": DEMO_GROUP,
                "options": emulator.collector_options(name),
            }
            for name in emulator.accounts
        ],
    }
    header = (
        "# quota-watch shard-pool demo: three emulated Cloudflare accounts in pool 'edge'.\n"
        "# Written by `python -m quota_watch.testing.demo`; the tokens are the emulator's.\n"
    )
    return header + tomli_w.dumps(document)


@dataclass(frozen=True)
class DemoResult:
    """What a demo run built."""

    config: Path
    store: Path
    start: datetime
    now: datetime
    steps: int
    failures: int


async def build_history(
    config_path: Path,
    clock: ManualClock,
    *,
    until: datetime,
    step: timedelta,
    progress: Callable[[datetime, dict[str, PollResult]], None] | None = None,
) -> tuple[int, int]:
    """Poll every account of the config at clock(), clock() + step, ... up to `until`, as the
    daemon does (Poller stores, Alerting evaluates each account, then each pool); returns
    (steps, failed polls)."""
    config = load_config(config_path)
    store = await Store.open(config.store_url())
    steps = failures = 0
    try:
        async with http_client(config) as client:
            runtimes = build_runtimes(config, client)
            poller = Poller(store, clock)
            alerting = Alerting(store, config, clock)
            while clock() <= until:
                names = sorted(runtimes)
                polled = await asyncio.gather(*(poller.poll(runtimes[n]) for n in names))
                results = dict(zip(names, polled, strict=True))
                for name in names:
                    await alerting.after_poll(runtimes[name], results[name])
                # The daemon re-plans a pool after its members' polls; they all polled just now.
                for group in sorted(
                    {rt.config.group for rt in runtimes.values() if rt.config.group}
                ):
                    members = {n: rt for n, rt in runtimes.items() if rt.config.group == group}
                    await alerting.evaluate_pool(group, members)
                failures += sum(r.outcome != "success" for r in polled)
                steps += 1
                if progress is not None:
                    progress(clock(), results)
                if clock() + step > until:
                    break
                clock.advance(step)
            # The daemon folds complete hours and days into rollups on a timer; once is enough.
            await store.rollup(clock())
    finally:
        await store.close()
    return steps, failures


def _progress(out: TextIO) -> Callable[[datetime, dict[str, PollResult]], None]:
    last_hour: list[datetime] = []

    def show(moment: datetime, results: dict[str, PollResult]) -> None:
        hour = moment.replace(minute=0, second=0, microsecond=0)
        if last_hour and last_hour[0] == hour:
            return
        last_hour[:] = [hour]
        parts = []
        for name, result in results.items():
            if result.outcome != "success":
                parts.append(f"{name} {result.outcome}: {result.error}")
                continue
            value = next((r.value for r in result.readings if r.limit == "workers_requests"), 0)
            parts.append(f"{name} {value:>9,.0f}")
        print(f"  {moment:%Y-%m-%d %H:%M}Z  workers requests: " + "  ".join(parts), file=out)

    return show


def run_demo(
    directory: Path,
    *,
    now: datetime,
    step: timedelta,
    hours: float | None = None,
    force: bool = False,
    out: TextIO | None = None,
    emulator_port: int = 0,
    listen: str = "127.0.0.1:9877",
) -> tuple[DemoResult, CloudflareEmulator]:
    """Write the config and build the history; returns the result and the emulator, still
    running (the caller stops it)."""
    out = out or sys.stderr
    now = now.astimezone(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    # From the day before by default: the daily-cap forecast compares today's rate with the same
    # hours of earlier days, and holds its alert on a day with nothing to compare with.
    start = midnight - timedelta(days=1) if hours is None else now - timedelta(hours=hours)
    directory.mkdir(parents=True, exist_ok=True)
    config_path, store_path = directory / CONFIG_NAME, directory / STORE_NAME
    leftovers = [p for p in (store_path, config_path) if p.exists()]
    if leftovers and not force:
        raise FileExistsError(
            f"{leftovers[0]} already exists: pass --force to replace the demo files, "
            "or choose another --dir"
        )
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{store_path}{suffix}").unlink(missing_ok=True)
    clock = ManualClock(start)
    emulator = CloudflareEmulator(
        demo_accounts(now), clock=clock, epoch=midnight, port=emulator_port
    )
    emulator.start()
    try:
        config_path.write_text(
            demo_config(emulator, directory, interval=step, listen=listen), encoding="utf-8"
        )
        print(
            f"emulated Cloudflare API at {emulator.api_base}; polling "
            f"{', '.join(emulator.accounts)} from {start:%Y-%m-%d %H:%M}Z to "
            f"{now:%Y-%m-%d %H:%M}Z every {_duration(step)}",
            file=out,
        )
        steps, failures = asyncio.run(
            build_history(config_path, clock, until=now, step=step, progress=_progress(out))
        )
    except BaseException:
        emulator.stop()
        raise
    result = DemoResult(config_path, store_path, start, clock(), steps, failures)
    return result, emulator


def _duration(value: timedelta) -> str:
    from quota_watch.units import format_duration

    return format_duration(value)


def _parse_now(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time (e.g. 2026-11-22T15:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no timezone: add Z or +00:00")
    return moment.astimezone(UTC)


def _parse_step(text: str) -> timedelta:
    try:
        step = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if step < timedelta(minutes=1) or step > timedelta(hours=6):
        raise argparse.ArgumentTypeError(f"{text!r}: the step must be between 1m and 6h")
    return step


def _parse_hours(text: str) -> float:
    try:
        hours = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of hours") from None
    if not 0 < hours <= 24 * 31:
        raise argparse.ArgumentTypeError(f"{text!r}: --hours must be above 0 and at most 744")
    return hours


def _parser() -> argparse.ArgumentParser:
    """The command line of `python -m quota_watch.testing.demo`."""
    parser = argparse.ArgumentParser(
        prog="python -m quota_watch.testing.demo",
        description="Shard-pool demo: three emulated Cloudflare accounts in pool 'edge', a day\n"
        "of history polled through the daemon's own path, ready for `quota-watch plan`\n"
        "and `quota-watch report`. Nothing leaves the loopback interface.",
        epilog="Examples:\n\n"
        "  python -m quota_watch.testing.demo --dir /tmp/qw-demo\n\n"
        "  python -m quota_watch.testing.demo --dir /tmp/qw-demo --now 2026-11-22T15:00:00Z\n\n"
        "  python -m quota_watch.testing.demo --dir /tmp/qw-demo --hours 48 --step 30m --serve",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--dir", type=Path, default=Path("quota-watch-demo"), help="where demo.toml and demo.db go"
    )
    parser.add_argument(
        "--now", type=_parse_now, default=None, help="end of the history (default: the real now)"
    )
    parser.add_argument(
        "--hours",
        type=_parse_hours,
        default=None,
        help="hours of history before --now (default: since 00:00 UTC of the day before)",
    )
    parser.add_argument(
        "--step",
        type=_parse_step,
        default=timedelta(minutes=10),
        help="time between polls (default: 10m)",
    )
    parser.add_argument("--force", action="store_true", help="replace demo files left in --dir")
    parser.add_argument(
        "--serve",
        action="store_true",
        help="keep the emulator running on a live clock so `quota-watch run` can poll it",
    )
    parser.add_argument("--port", type=int, default=0, help="emulator port (default: a free one)")
    parser.add_argument(
        "--listen",
        default="127.0.0.1:9877",
        help="the daemon's /metrics address written to demo.toml (127.0.0.1:9877)",
    )
    return parser


def _print_next_steps(result: DemoResult, emulator: CloudflareEmulator, *, now_given: bool) -> None:
    """What was stored, and the commands to run on it."""
    print(
        f"{result.steps} polls of {len(emulator.accounts)} accounts stored in "
        f"{result.store} ({result.failures} failed)",
        file=sys.stderr,
    )
    print(f"\nconfig: {result.config}\nnow run:\n")
    print(f"  quota-watch plan -c {result.config}")
    print(f"  quota-watch report -c {result.config}")
    if now_given:
        print(
            f"\n(history ends at {result.now:%Y-%m-%d %H:%M}Z; the commands judge it "
            "at the current time)"
        )


def _serve(emulator: CloudflareEmulator, result: DemoResult) -> None:
    """Keep the emulator serving on a clock running on from the history's end, until Ctrl-C."""
    wall = time.monotonic()
    live_from = result.now
    emulator.clock = lambda: live_from + timedelta(seconds=time.monotonic() - wall)
    print(
        f"\nthe emulator keeps serving at {emulator.api_base} (its clock runs on from "
        f"{live_from:%H:%M}Z); in another shell:\n\n"
        f"  quota-watch run -c {result.config}\n\nCtrl-C stops the emulator."
    )
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopping", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo from the command line; see the module docstring."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    now = args.now or datetime.now(UTC)
    try:
        result, emulator = run_demo(
            args.dir,
            now=now,
            step=args.step,
            hours=args.hours,
            force=args.force,
            emulator_port=args.port,
            listen=args.listen,
        )
    except FileExistsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (ConfigError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        _print_next_steps(result, emulator, now_given=args.now is not None)
        if not args.serve:
            return 0 if result.failures == 0 else 1
        _serve(emulator, result)
        return 0
    finally:
        emulator.stop()


if __name__ == "__main__":
    sys.exit(main())
