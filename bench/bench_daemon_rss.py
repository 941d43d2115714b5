"""Daemon memory benchmark: RSS of the real daemon polling N emulated accounts for ~1,000 cycles.

`python -m quota_watch run -c cfg` in a subprocess polls N http_json accounts (default 50) on the
loopback emulator (in this process's thread) with a short interval, while this script
samples the daemon's VmRSS from /proc/<pid>/status and scrapes /metrics every few seconds as a
Prometheus would, reading quota_watch_collector_runs_total to count cycles (cycle k = every
account has at least k runs). Also measured: the import floor (RSS of a bare python, of
`import quota_watch.daemon`, and of that plus loading the http_json collector).

    python bench/bench_daemon_rss.py           # 20 accounts every 1s until 1,000 cycles
    python bench/bench_daemon_rss.py --quick   # 10 accounts every 500ms, 100 cycles (~1 min)
    python bench/bench_daemon_rss.py --default-config   # no config file: host collector (~1 min)

The interval and account count are chosen so that the daemon keeps up: it spends ~25 ms of CPU
per poll (HTTP, the store, the rules engine re-reading each series' recent samples), so it
sustains about 40 polls/s on one core; 20 accounts every second is ~50 %. Faster than that the
daemon saturates, APScheduler skips every run whose previous one is still going and logs a
warning for each, that skip storm eats more CPU, and the run measures an overloaded daemon (the
bench then counts the skips). 1,000 cycles take ~18 min; --timeout (default 25 min) bounds the
run and the figures say how many cycles were reached. `--accounts 50 --interval 250ms` is the
overload case.

The target is 100 MB in SI units (1e8 bytes, as the project writes quantities; 95.4 MiB).
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w
from _common import (
    REPO,
    BenchDaemon,
    Result,
    add_common_args,
    free_port,
    header,
    isolated_env,
    mib,
    table,
    verdict,
    write_results,
)

from quota_watch.sdk import parse_duration
from quota_watch.testing.emulator import Emulator, demo_accounts

TARGET_BYTES = 100_000_000  # 100 MB (SI), 95.4 MiB
DEFAULT_TARGET_BYTES = 85_000_000  # 85 MB (SI), 81.1 MiB: the default config (issue #16)
_RUNS = re.compile(rb"^quota_watch_collector_runs_total\{[^}]*\} ([0-9.e+]+)$", re.MULTILINE)

_FLOOR_SNIPPETS = {
    "bare python": "",
    "import quota_watch.daemon": "import quota_watch.daemon",
    "+ http_json collector loaded": (
        "import quota_watch.daemon\n"
        "from quota_watch.collect.registry import discover\n"
        "discover({'http_json'})"
    ),
    "import quota_watch.daemon.process (the daemon's modules)": "import quota_watch.daemon.process",
    "+ apprise with a URL checked": (
        "import quota_watch.daemon.process, apprise\napprise.Apprise().add('json://127.0.0.1:9/')"
    ),
}
_DEFAULT_FLOORS = {
    "bare python": "",
    "the daemon's modules, the CLI and the host collector": (
        "import quota_watch.cli, quota_watch.daemon.process, httpcore\n"
        "from quota_watch.collect.registry import discover\n"
        "discover({'host'})"
    ),
}
# httpcore imports trio whenever it is installed; here selenium (a dev dependency) brings it.
_WITHOUT_TRIO = "import sys\nsys.modules['trio'] = None  # as where trio is not installed\n"

_SKIPPED = "maximum number of running instances reached"
_PRINT_RSS = (
    "\nfor _l in open('/proc/self/status'):\n"
    "    if _l.startswith('VmRSS:'):\n"
    "        print(int(_l.split()[1]) * 1024)\n"
)


@dataclass(frozen=True)
class Sample:
    """One observation of the daemon."""

    elapsed: float
    rss: int
    hwm: int
    anon: int
    cycles: int  # min runs_total over the accounts at the last scrape
    cpu: float  # daemon CPU seconds so far


def mb(nbytes: float) -> str:
    """Bytes as SI megabytes with one decimal."""
    return f"{nbytes / 1e6:.1f} MB"


def proc_status(pid: int) -> tuple[int, int, int]:
    """VmRSS, VmHWM (peak RSS) and RssAnon (private heap, no file pages) of `pid`, in bytes."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon"):
            fields[key] = int(rest.split()[0]) * 1024
    return fields["VmRSS"], fields["VmHWM"], fields["RssAnon"]


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of `pid`."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def import_floor(workdir: Path, snippets: dict[str, str] = _FLOOR_SNIPPETS) -> dict[str, int]:
    """RSS right after each snippet runs in a fresh interpreter."""
    floors = {}
    for label, code in snippets.items():
        for _ in range(2):  # the first run may still be writing bytecode caches
            out = subprocess.run(
                [sys.executable, "-c", code + _PRINT_RSS],
                capture_output=True,
                text=True,
                check=True,
                env=isolated_env(workdir),
            ).stdout
        floors[label] = int(out.split()[-1])
    return floors


def scaled_rule_pack(workdir: Path, lookback_seconds: float) -> Path:
    """A copy of rules/default.toml whose [forecast] lookback is `lookback_seconds`."""
    text = (REPO / "rules" / "default.toml").read_text(encoding="utf-8")
    pattern = re.compile(r'^(lookback\s*=\s*)"[^"]*"', re.MULTILINE)
    scaled, count = pattern.subn(rf'\g<1>"{lookback_seconds:g}s"', text)
    if count != 1:
        raise RuntimeError(f"expected one forecast lookback in rules/default.toml, found {count}")
    path = workdir / "rules.toml"
    path.write_text(scaled, encoding="utf-8")
    return path


def min_runs(body: bytes, accounts: int) -> int:
    """The smallest collector_runs_total over the accounts (0 until every account has run)."""
    runs = [float(v) for v in _RUNS.findall(body)]
    if len(runs) < accounts:
        return 0
    return int(min(runs))


def run_daemon(
    workdir: Path,
    accounts: int,
    interval: str,
    cycles: int,
    scrape_every: float,
    timeout: float,
    env: dict[str, str],
    lookback_points: int,
    notifier: str | None = None,
) -> tuple[list[Sample], dict[str, Any]]:
    """Run the daemon until `cycles` cycles; returns the samples and end-of-run facts."""
    db = workdir / "rss.db"
    port = free_port()
    samples: list[Sample] = []
    with Emulator(demo_accounts(accounts), seed=4) as emulator:
        document: dict[str, Any] = tomllib.loads(
            emulator.config_toml(
                interval=interval, store_url=f"sqlite:///{db}", listen=f"127.0.0.1:{port}"
            )
        )
        # The rules re-read each series' samples over the forecast lookback after every poll;
        # keep as many points in that window as the default 24 h holds at a 10-minute interval.
        # A [[rules]] forecast_lookback cannot do it (the read uses the longest lookback of the
        # pack and the overrides), so the bench runs a copy of the default pack.
        seconds = parse_duration(interval).total_seconds() * lookback_points
        document["alerts"] = {"rule_pack": str(scaled_rule_pack(workdir, seconds))}
        if notifier is not None:
            document["notifiers"] = [{"name": "ops", "url": notifier, "severities": ["critical"]}]
        config = workdir / "rss.toml"
        config.write_text(tomli_w.dumps(document), encoding="utf-8")
        with BenchDaemon(workdir, config, port, env) as daemon:
            t0 = time.perf_counter()
            daemon.wait_serving()
            rss, hwm, anon = proc_status(daemon.pid)
            samples.append(
                Sample(time.perf_counter() - t0, rss, hwm, anon, 0, proc_cpu(daemon.pid))
            )
            done = 0
            next_scrape = 0.0
            deadline = time.monotonic() + timeout
            while done < cycles:
                daemon.check_alive()
                if time.monotonic() > deadline:
                    print(f"stopping at the {timeout:.0f} s time limit after {done} cycles")
                    break
                now = time.perf_counter() - t0
                # Scrape often until the first cycle completes, then at the Prometheus pace.
                if now >= next_scrape:
                    status, body, _ = daemon.timed_get("/metrics")
                    if status == 200:
                        done = min_runs(body, accounts)
                    next_scrape = now + (0.2 if done == 0 else scrape_every)
                rss, hwm, anon = proc_status(daemon.pid)
                samples.append(Sample(now, rss, hwm, anon, done, proc_cpu(daemon.pid)))
                time.sleep(0.2 if done == 0 else 0.5)
            stats = emulator.stats
            code = daemon.stop(timeout=60)
            log = daemon.log()
            if code != 0:
                raise RuntimeError(f"daemon exited {code}:\n{log}")
    requests = sum(sum(counter.values()) for counter in stats.values())
    facts = {
        "db_bytes": db.stat().st_size + sum(p.stat().st_size for p in workdir.glob("rss.db-*")),
        "requests": requests,
        "warnings": [
            line for line in log.splitlines() if " WARNING " in line and _SKIPPED not in line
        ][:5],
        "skipped": sum(1 for line in log.splitlines() if _SKIPPED in line),
    }
    return samples, facts


def run_default(workdir: Path, starts: int, env: dict[str, str]) -> list[tuple[int, int, int]]:
    """Start the daemon with no config file `starts` times on one database (the first start
    creates it); (RSS, peak, anon) of each after its first poll and a /metrics scrape."""
    home = workdir / "home"
    home.mkdir()
    found = []
    for _ in range(starts):
        port = free_port()
        with BenchDaemon(home, None, port, {"HOME": str(home), **env}) as daemon:
            daemon.wait_serving()
            deadline = time.monotonic() + 120
            while min_runs(daemon.timed_get("/metrics")[1], 1) < 1:
                daemon.check_alive()
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no poll within 120 s:\n{daemon.log()}")
                time.sleep(0.2)
            time.sleep(1.0)  # the poll's store write and rules are done by now
            daemon.timed_get("/metrics")
            found.append(proc_status(daemon.pid))
            code, log = daemon.stop(timeout=60), daemon.log()
        if code != 0 or "embedded default" not in log:
            raise RuntimeError(f"daemon exited {code}, or ran another config:\n{log}")
    return found


def default_config(args: argparse.Namespace) -> int:
    """--default-config: the daemon with no config file, beside its import floor."""
    starts = 3 if args.quick else 7
    header(
        "daemon RSS, default config",
        "Real daemon (subprocess) run with no config file (the embedded default: the host "
        "collector, SQLite in $XDG_DATA_HOME) in a temporary HOME; RSS read after its first "
        f"poll and a /metrics scrape. Started {starts} times on one database: the first start "
        "creates it (migrations in a child process), the restarts are the steady case.",
    )
    snippets = dict(_DEFAULT_FLOORS)
    has_trio = importlib.util.find_spec("trio") is not None
    if has_trio:
        label = "the same with trio hidden (as in an install without trio)"
        snippets[label] = (
            _WITHOUT_TRIO + _DEFAULT_FLOORS["the daemon's modules, the CLI and the host collector"]
        )
    with tempfile.TemporaryDirectory(prefix="qw-bench-rss-") as tmp:
        floors = import_floor(Path(tmp), snippets)
        env = dict(item.split("=", 1) for item in args.daemon_env)
        found = run_default(Path(tmp), starts, env)
    print(table(["import floor", "RSS"], [(k, f"{mib(v)} = {mb(v)}") for k, v in floors.items()]))
    steady = sorted(found[1:], key=lambda f: f[0])[len(found[1:]) // 2]  # the median restart
    floor = floors["the daemon's modules, the CLI and the host collector"]
    rows = [("first start (fresh database)", found[0]), ("restart, median", steady)]
    print()
    print(
        table(
            ["daemon, default config", "RSS", "of which anon", "peak RSS", "RSS - import floor"],
            [
                (label, f"{mib(r)} = {mb(r)}", mib(anon), mib(hwm), mib(r - floor))
                for label, (r, hwm, anon) in rows
            ],
        )
    )
    print(f"\nrestarts: {', '.join(mib(r) for r, _, _ in found[1:])}")
    if has_trio:
        print("trio is installed here (selenium, a dev dependency): httpcore imports it if present")
    ok = max(steady[0], found[0][0]) <= DEFAULT_TARGET_BYTES
    print()
    results = [
        Result(
            "daemon RSS",
            "default config, after a poll and a scrape (restart / first start)",
            f"{mib(steady[0])} / {mib(found[0][0])}",
            "<= 85 MB (81.1 MiB)",
            verdict(ok),
            f"{mb(steady[0])}; import floor {mib(floor)}",
        )
    ]
    write_results(args.json, results, {"floors": floors, "starts": found})
    return 0


def at_cycle(samples: list[Sample], cycle: int) -> Sample | None:
    """The first sample at or after `cycle` cycles."""
    return next((s for s in samples if s.cycles >= cycle), None)


def slope_per_100(samples: list[Sample], start_cycle: int) -> float | None:
    """Least-squares RSS growth in bytes per 100 cycles, from `start_cycle` on (leak check)."""
    points = [(s.cycles, s.rss) for s in samples if s.cycles >= start_cycle]
    if len({c for c, _ in points}) < 3:
        return None
    n = len(points)
    mean_c = sum(c for c, _ in points) / n
    mean_r = sum(r for _, r in points) / n
    var = sum((c - mean_c) ** 2 for c, _ in points)
    cov = sum((c - mean_c) * (r - mean_r) for c, r in points)
    return cov / var * 100


def main(argv: list[str] | None = None) -> int:
    """Run the bench and print its figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add_common_args(parser)
    parser.add_argument("--accounts", type=int, default=None, help="default 20 (quick: 10)")
    parser.add_argument(
        "--interval",
        default=None,
        help="poll interval (default 1s; quick: 500ms): one the daemon keeps up with",
    )
    parser.add_argument("--cycles", type=int, default=None, help="default 1000 (quick: 100)")
    parser.add_argument("--scrape-every", type=float, default=5.0, help="seconds between scrapes")
    parser.add_argument(
        "--daemon-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the daemon (repeatable), e.g. MALLOC_ARENA_MAX=2",
    )
    parser.add_argument(
        "--lookback-points",
        type=int,
        default=144,
        help="forecast lookback as a number of poll intervals (default 144: what the default "
        "24 h holds at a 10-minute interval)",
    )
    parser.add_argument("--timeout", type=float, default=1500.0, help="stop after (seconds)")
    parser.add_argument(
        "--notifier",
        default=None,
        metavar="APPRISE_URL",
        help="configure one apprise notifier (critical alerts only), e.g. json://127.0.0.1:9/",
    )
    parser.add_argument(
        "--default-config",
        action="store_true",
        help="measure the daemon with no config file (host collector) instead; ~1 min",
    )
    args = parser.parse_args(argv)
    if args.default_config:
        return default_config(args)
    cycles = args.cycles or (100 if args.quick else 1000)
    args.accounts = args.accounts or (10 if args.quick else 20)
    args.interval = args.interval or ("500ms" if args.quick else "1s")
    header(
        "daemon RSS",
        f"Real daemon (subprocess), {args.accounts} http_json accounts on the loopback emulator "
        f"(no added latency, 4 readings per poll), interval {args.interval}, SQLite store, "
        f"/metrics scraped every {args.scrape_every:g} s, until every account has {cycles} runs. "
        "RSS = VmRSS from /proc/<pid>/status (resident memory, shared libraries included); "
        "anon = RssAnon, the private heap part (the rest is file-backed pages). Forecast "
        f"lookback = {args.lookback_points} intervals (as 24 h at 10 min; a copy of the default "
        "rule pack), so the per-poll rules work matches production's."
        + (f" Daemon environment: {' '.join(args.daemon_env)}." if args.daemon_env else "")
        + (" One apprise notifier configured." if args.notifier else ""),
    )
    with tempfile.TemporaryDirectory(prefix="qw-bench-rss-") as tmp:
        floors = import_floor(Path(tmp))
        print(table(["import floor", "RSS"], [(k, mib(v)) for k, v in floors.items()]))
        print()
        samples, facts = run_daemon(
            Path(tmp),
            args.accounts,
            args.interval,
            cycles,
            args.scrape_every,
            args.timeout,
            dict(item.split("=", 1) for item in args.daemon_env),
            args.lookback_points,
            args.notifier,
        )
    last = samples[-1]
    milestones = [("start (/readyz answers)", samples[0])]
    for mark in (1, 10, 100, 250, 500, 1000, cycles):
        sample = at_cycle(samples, mark)
        label = "after the first cycle" if mark == 1 else f"{mark} cycles"
        if sample is not None and all(label != m[0] for m in milestones) and mark <= cycles:
            milestones.append((label, sample))
    milestones.append(("end", last))
    print(
        table(
            ["when", "elapsed", "cycles", "RSS", "of which anon", "peak RSS (VmHWM)", "daemon CPU"],
            [
                (
                    label,
                    f"{s.elapsed:.1f} s",
                    s.cycles,
                    mib(s.rss),
                    mib(s.anon),
                    mib(s.hwm),
                    f"{s.cpu:.1f} s",
                )
                for label, s in milestones
            ],
        )
    )
    polls = last.cycles * args.accounts
    first_full = at_cycle(samples, 1)
    period = (
        (last.elapsed - first_full.elapsed) / max(1, last.cycles - 1)
        if first_full
        else float("nan")
    )
    print(
        f"\n{facts['requests']} polls served by the emulator; one cycle took {period:.2f} s on "
        f"average (interval {args.interval} + scheduler jitter); daemon CPU "
        f"{last.cpu / max(1, facts['requests']) * 1000:.1f} ms per poll, "
        f"{last.cpu / max(last.elapsed, 1e-9):.0%} of one core; SQLite files "
        f"{mib(facts['db_bytes'])} at the end"
    )
    growth = slope_per_100(samples, min(100, max(2, last.cycles // 4)))
    if growth is not None:
        print(f"RSS trend after warm-up: {growth / 2**20:+.2f} MiB per 100 cycles")
    if facts["skipped"]:
        print(
            f"APScheduler skipped {facts['skipped']} runs whose previous run was still going "
            "(the daemon was saturated: polls were due faster than it could do them)"
        )
    if facts["warnings"]:
        print("other WARNING lines in the daemon's log (first 5):")
        for line in facts["warnings"]:
            print(f"  {line}")
    print()
    reached = last.cycles >= cycles
    results = [
        Result(
            "daemon RSS",
            f"{args.accounts} accounts, peak RSS over {last.cycles} cycles ({polls} polls)",
            f"{mib(last.hwm)} (RSS at the end {mib(last.rss)}, anon {mib(last.anon)})",
            "< 100 MB (95.4 MiB)",
            verdict(max(s.hwm for s in samples) < TARGET_BYTES),
            f"{mb(last.hwm)}" + ("" if reached else f"; time limit hit before {cycles} cycles"),
        ),
        Result(
            "daemon RSS",
            f"{args.accounts} accounts, RSS at start / after first cycle",
            f"{mib(samples[0].rss)} / {mib(first_full.rss) if first_full else 'n/a'}",
        ),
        Result(
            "daemon RSS",
            "import floor: bare python / import quota_watch.daemon",
            f"{mib(floors['bare python'])} / {mib(floors['import quota_watch.daemon'])}",
        ),
    ]
    if growth is not None:
        results.append(
            Result("daemon RSS", "RSS trend after warm-up", f"{growth / 2**20:+.2f} MiB/100 cycles")
        )
    write_results(
        args.json,
        results,
        {
            "floors": floors,
            "samples": [s.__dict__ for s in samples[:: max(1, len(samples) // 400)]],
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
