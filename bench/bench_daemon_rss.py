"""Daemon memory benchmark: RSS of the real daemon polling N emulated accounts, and whether it
stays flat once every bounded structure is full.

`python -m quota_watch run -c cfg` in a subprocess polls N http_json accounts on the loopback
emulator (in this process's thread), while this script samples the daemon's VmRSS from
/proc/<pid>/status and scrapes /metrics every few seconds as a Prometheus would, reading
quota_watch_collector_runs_total to count cycles (cycle k = every account has k runs).

Steady state, honestly: the rules keep each series' samples over the forecast lookback in
memory (144 points at the default 24 h / 10 min), which by polling alone fill only after 144
cycles. By default (--prefill) a seeding daemon runs one cycle, the bench writes 144 intervals
of history before each series' first sample, and the measured daemon starts with full windows;
then --warmup-cycles (default 10) let the other bounded structures fill (SQLite's page caches,
SQLAlchemy's statement cache, the log-repeat filter) before the measured phase, whose RSS slope
per 1,000 polls is printed beside the slopes of Python's allocated blocks and
of SQLite's own memory, read by the daemon's QUOTA_WATCH_MEMTRACE hook every --mark-every
polls. --trace FRAMES runs the daemon under tracemalloc and lists, between marks, where traced
memory grew (the daemon then costs several times the CPU per poll: use fewer polls a second).

    python bench/bench_daemon_rss.py --accounts 200 --interval 10s --cycles 60 \
        --notifier json://127.0.0.1:9/        # the issue's case: 10,000 polls after warm-up
    python bench/bench_daemon_rss.py --quick   # 10 accounts every 1s, 100 cycles (~2 min)
    python bench/bench_daemon_rss.py --default-config   # no config file: host collector (~1 min)
    python bench/bench_daemon_rss.py --default-config --cycles 2500   # its steady state (~45 min)
    python bench/bench_daemon_rss.py --accounts 40 --interval 5s --cycles 262 --trace 8

Keep the daemon below saturation: past it APScheduler skips runs (the bench counts the skips)
and the run measures an overloaded daemon. The targets are SI: 100 MB (95.4 MiB) with 200
accounts and a notifier, 85 MB (81.1 MiB) with the default config; "flat" is less than 1 MB of
RSS growth per 10,000 polls (the least-squares slope over the measured phase).
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
from _rss_steady import (
    FLAT_BYTES_PER_10K,
    MEMTRACE_ENV,
    SAMPLE_BYTES,
    growth_tables,
    marks_table,
    memtrace_env,
    per_1000,
    prefill_history,
    read_marks,
    slope,
)

from quota_watch.config.settings import EMBEDDED_DEFAULT
from quota_watch.sdk import parse_duration
from quota_watch.testing.emulator import Emulator, demo_accounts

TARGET_BYTES = 100_000_000  # 100 MB (SI), 95.4 MiB
DEFAULT_TARGET_BYTES = 85_000_000  # 85 MB (SI), 81.1 MiB: the default config (issue #16)
_RUNS = re.compile(rb"^quota_watch_collector_runs_total\{[^}]*\} ([0-9.e+]+)$", re.MULTILINE)

_DAEMON_FLOOR = "import quota_watch.daemon.process (the daemon's modules)"
_FLOOR_SNIPPETS = {
    "bare python": "",
    "import quota_watch.daemon": "import quota_watch.daemon",
    "+ http_json collector loaded": (
        "import quota_watch.daemon\n"
        "from quota_watch.collect.registry import discover\n"
        "discover({'http_json'})"
    ),
    _DAEMON_FLOOR: "import quota_watch.daemon.process",
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
# httpcore imports trio whenever it is installed (~4-5 MiB). Nothing here installs it any more
# (the browser tests moved from selenium to Playwright); a venv that still has it is stale.
_TRIO_WARNING = (
    "warning: trio is installed in this environment and httpcore imports it (~4-5 MiB more "
    "than an install); recreate the venv: pip install -e '.[dev]' no longer brings it"
)


def daemon_env(args: argparse.Namespace) -> dict[str, str]:
    """--daemon-env as a mapping."""
    return dict(item.split("=", 1) for item in args.daemon_env)


def warn_if_trio() -> None:
    """Say so when trio would inflate the daemon's figures."""
    if importlib.util.find_spec("trio") is not None:
        print(_TRIO_WARNING)


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
    polls: int = 0  # requests the emulator has served to the measured daemon


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


def seed_store(
    workdir: Path, config: Path, port: int, env: dict[str, str], accounts: int, points: int
) -> int:
    """Run the daemon for one cycle to create the store and its series, then write `points`
    intervals of history before each series' first sample (pre-filled windows)."""
    with BenchDaemon(workdir, config, port, env) as daemon:
        daemon.wait_serving()
        deadline = time.monotonic() + 300
        while min_runs(daemon.timed_get("/metrics")[1], accounts) < 1:
            daemon.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"no full cycle within 300 s:\n{daemon.log()}")
            time.sleep(0.5)
        code = daemon.stop(timeout=60)
        if code != 0:
            raise RuntimeError(f"seeding daemon exited {code}:\n{daemon.log()}")
    document = tomllib.loads(config.read_text(encoding="utf-8"))
    interval = parse_duration(document["accounts"][0]["interval"]).total_seconds()
    return prefill_history(workdir / "rss.db", interval, points)


def run_daemon(
    workdir: Path,
    args: argparse.Namespace,
    cycles: int,
    env: dict[str, str],
) -> tuple[list[Sample], dict[str, Any]]:
    """Run the daemon until `cycles` cycles; returns the samples and end-of-run facts."""
    accounts, interval = args.accounts, args.interval
    timeout, scrape_every = args.timeout, args.scrape_every
    db = workdir / "rss.db"
    port = free_port()
    samples: list[Sample] = []
    prefilled = 0
    with Emulator(demo_accounts(accounts), seed=4) as emulator:
        document: dict[str, Any] = tomllib.loads(
            emulator.config_toml(
                interval=interval, store_url=f"sqlite:///{db}", listen=f"127.0.0.1:{port}"
            )
        )
        # The rules keep each series' samples over the forecast lookback in memory; keep as
        # many points in that window as the default 24 h holds at a 10-minute interval.
        # A [[rules]] forecast_lookback cannot do it (the windows use the longest lookback of
        # the pack and the overrides), so the bench runs a copy of the default pack.
        seconds = parse_duration(interval).total_seconds() * args.lookback_points
        document["alerts"] = {"rule_pack": str(scaled_rule_pack(workdir, seconds))}
        if args.notifier is not None:
            document["notifiers"] = [
                {"name": "ops", "url": args.notifier, "severities": ["critical"]}
            ]
        config = workdir / "rss.toml"
        config.write_text(tomli_w.dumps(document), encoding="utf-8")
        seeded = 0  # the seeding cycle is in every account's runs_total
        if args.prefill:
            quiet = {k: v for k, v in env.items() if k != MEMTRACE_ENV}
            prefilled = seed_store(workdir, config, port, quiet, accounts, args.lookback_points)
            seeded = 1
        served = emulator_polls(emulator)
        with BenchDaemon(workdir, config, port, env) as daemon:
            t0 = time.perf_counter()
            daemon.wait_serving()
            rss, hwm, anon = proc_status(daemon.pid)
            samples.append(
                Sample(time.perf_counter() - t0, rss, hwm, anon, 0, proc_cpu(daemon.pid), 0)
            )
            done = 0
            next_scrape = 0.0
            deadline = time.monotonic() + timeout
            while done - seeded < cycles:
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
                polls = emulator_polls(emulator) - served
                own = max(0, done - seeded)
                samples.append(Sample(now, rss, hwm, anon, own, proc_cpu(daemon.pid), polls))
                time.sleep(0.2 if done == 0 else 0.5)
            stats = emulator.stats
            code = daemon.stop(timeout=60)
            log = daemon.log()
            if code != 0:
                raise RuntimeError(f"daemon exited {code}:\n{log}")
    requests = sum(sum(counter.values()) for counter in stats.values()) - served
    facts = {
        "prefilled": prefilled,
        "db_bytes": db.stat().st_size + sum(p.stat().st_size for p in workdir.glob("rss.db-*")),
        "requests": requests,
        "warnings": [
            line for line in log.splitlines() if " WARNING " in line and _SKIPPED not in line
        ][:5],
        "skipped": sum(1 for line in log.splitlines() if _SKIPPED in line),
    }
    return samples, facts


def emulator_polls(emulator: Emulator) -> int:
    """Requests the emulator has served so far."""
    return sum(sum(counter.values()) for counter in emulator.stats.values())


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
    warn_if_trio()
    with tempfile.TemporaryDirectory(prefix="qw-bench-rss-") as tmp:
        floors = import_floor(Path(tmp), _DEFAULT_FLOORS)
        found = run_default(Path(tmp), starts, daemon_env(args))
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


def default_lookback_points() -> int:
    """Samples a series' window holds on the default config once full: the default pack's
    forecast lookback at the embedded default's interval (3 d at 1 min: 4,320)."""
    pack = tomllib.loads((REPO / "rules" / "default.toml").read_text(encoding="utf-8"))
    lookback = parse_duration(pack["forecast"]["lookback"])
    return int(lookback / parse_duration(EMBEDDED_DEFAULT["accounts"][0]["interval"]))


def default_steady(args: argparse.Namespace) -> int:
    """--default-config --cycles N: the default config's account polled every --interval for
    N polls with its rules' windows as full as on the default config after the lookback."""
    points = args.lookback_points or default_lookback_points()
    warmup = args.warmup_cycles if args.warmup_cycles is not None else 10
    header(
        "daemon RSS, default config, steady state",
        "Real daemon (subprocess) with the embedded default's account (the host collector) "
        f"polled every {args.interval} instead of every minute, for {args.cycles} polls, SQLite "
        f"store; RSS = VmRSS, sampled every 0.5 s, /metrics scraped every {args.scrape_every:g} "
        f"s. The forecast lookback is {points} intervals (a copy of the default pack), as many "
        "samples as the default 3 d holds at the default 1-minute interval"
        + (
            f"; {points} intervals of history written before the measured start, so the windows "
            "are full from its first poll (as after a restart of a daemon that ran that long)."
            if args.prefill
            else "; windows not pre-filled: they fill as the daemon polls."
        )
        + (f" Daemon environment: {' '.join(args.daemon_env)}." if args.daemon_env else ""),
    )
    warn_if_trio()
    with tempfile.TemporaryDirectory(prefix="qw-bench-rss-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        seconds = parse_duration(args.interval).total_seconds() * points
        account = {**EMBEDDED_DEFAULT["accounts"][0], "interval": args.interval}
        document = {
            "server": {"listen": f"127.0.0.1:{port}"},
            "store": {"url": f"sqlite:///{workdir / 'rss.db'}"},
            "alerts": {"rule_pack": str(scaled_rule_pack(workdir, seconds))},
            "accounts": [account],
        }
        config = workdir / "rss.toml"
        config.write_text(tomli_w.dumps(document), encoding="utf-8")
        env = daemon_env(args)
        prefilled = seed_store(workdir, config, port, env, 1, points) if args.prefill else 0
        trace_dir = workdir / "memtrace"
        env |= memtrace_env(trace_dir, args.cycles + 2, args.mark_every)
        samples = sample_polls(workdir, config, port, env, args)
        marks = read_marks(trace_dir)
    if prefilled:
        print(f"{prefilled} history samples written before the measured start\n")
    return print_steady(samples, marks, args, points, warmup)


def sample_polls(
    workdir: Path, config: Path, port: int, env: dict[str, str], args: argparse.Namespace
) -> list[Sample]:
    """Run the one-account daemon until --cycles polls (or --timeout); its samples."""
    samples: list[Sample] = []
    with BenchDaemon(workdir, config, port, env) as daemon:
        t0 = time.perf_counter()
        daemon.wait_serving()
        polls, next_scrape = 0, 0.0
        deadline = time.monotonic() + args.timeout
        while polls < args.cycles:
            daemon.check_alive()
            if time.monotonic() > deadline:
                print(f"stopping at the {args.timeout:.0f} s time limit after {polls} polls")
                break
            now = time.perf_counter() - t0
            if now >= next_scrape:
                status, body, _ = daemon.timed_get("/metrics")
                if status == 200:
                    polls = min_runs(body, 1)
                next_scrape = now + args.scrape_every
            rss, hwm, anon = proc_status(daemon.pid)
            samples.append(Sample(now, rss, hwm, anon, polls, proc_cpu(daemon.pid), polls))
            time.sleep(0.5)
        code = daemon.stop(timeout=60)
        if code != 0:
            raise RuntimeError(f"daemon exited {code}:\n{daemon.log()}")
    return samples


def print_steady(
    samples: list[Sample],
    marks: list[dict[str, Any]],
    args: argparse.Namespace,
    points: int,
    warmup: int,
) -> int:
    """The RSS curve by poll count, the daemon's own figures and the verdicts."""
    last = samples[-1]
    shown, rows = set(), []
    for mark in (1, 10, 100, 250, 500, *range(1000, last.polls + 1, 500), last.polls):
        sample = at_cycle(samples, mark)
        if sample is None or sample.polls in shown:
            continue
        shown.add(sample.polls)
        rows.append(
            (
                sample.polls,
                f"{sample.elapsed:.0f} s",
                f"{mib(sample.rss)} = {mb(sample.rss)}",
                mib(sample.anon),
                mib(sample.hwm),
                f"{sample.cpu:.1f} s",
            )
        )
    print(table(["polls", "elapsed", "RSS", "of which anon", "peak RSS", "CPU"], rows))
    if marks:
        print()
        print(marks_table(marks, points))
    first = at_cycle(samples, warmup)
    if first is None or last.polls - first.polls < 3:
        print(f"\nno measured phase: the run ended before {warmup} polls")
        return 1
    measured = [s for s in samples if s.polls >= first.polls]
    polls = last.polls - first.polls
    highest = max(s.rss for s in measured)
    rss_slope = slope([(s.polls, s.rss) for s in measured])
    cpu = (last.cpu - first.cpu) / polls
    print(
        f"\nafter {warmup} warm-up polls: {polls} polls, highest RSS {mib(highest)} = "
        f"{mb(highest)}, RSS slope {per_1000(rss_slope)} per 1,000 polls, daemon CPU "
        f"{cpu * 1000:.1f} ms per poll\n"
    )
    growth = (rss_slope or 0.0) * 10_000
    results = [
        Result(
            "daemon RSS",
            f"default config, windows of {points} samples, highest RSS over {polls} polls",
            f"{mib(highest)} = {mb(highest)}",
            "<= 85 MB (81.1 MiB)",
            verdict(highest <= DEFAULT_TARGET_BYTES),
        ),
        Result(
            "daemon RSS",
            "default config, RSS growth per 10,000 polls (slope)",
            f"{growth / 2**20:+.2f} MiB = {growth / 1e6:+.2f} MB",
            "flat: < 1 MB",
            verdict(growth < FLAT_BYTES_PER_10K) if polls >= 2_000 else "too short to judge",
        ),
    ]
    write_results(
        args.json,
        results,
        {"marks": marks, "samples": [s.__dict__ for s in samples[:: max(1, len(samples) // 400)]]},
    )
    return 0


def at_cycle(samples: list[Sample], cycle: int) -> Sample | None:
    """The first sample at or after `cycle` cycles."""
    return next((s for s in samples if s.cycles >= cycle), None)


def steady_state(
    samples: list[Sample],
    marks: list[dict[str, Any]],
    floors: dict[str, int],
    args: argparse.Namespace,
    warm: int,
) -> list[Result]:
    """The measured phase (after `warm` cycles): RSS and Python-heap slopes, the windows
    beside their full size, and the verdicts."""
    first, last = at_cycle(samples, warm), samples[-1]
    if first is None or last.polls - first.polls < 3 * args.accounts:
        print(f"no measured phase: the run ended before {warm} cycles")
        return []
    measured = [s for s in samples if s.polls >= first.polls]
    polls = last.polls - first.polls
    rss_slope = slope([(s.polls, s.rss) for s in measured])
    anon_slope = slope([(s.polls, s.anon) for s in measured])
    in_phase = [m for m in marks if m["polls"] >= first.polls]
    highest = max(s.rss for s in measured)
    held = marks[-1] if marks else {}
    full = held.get("window_series", 0) * (args.lookback_points + 1)
    rows = [
        ("measured polls (after the warm-up)", f"{first.polls} -> {last.polls}: {polls}"),
        ("RSS at the warm-up's end / at the end", f"{mib(first.rss)} / {mib(last.rss)}"),
        ("highest RSS in the measured phase", f"{mib(highest)} = {mb(highest)}"),
        ("RSS slope (least squares)", per_1000(rss_slope) + " per 1,000 polls"),
        ("RssAnon slope", per_1000(anon_slope) + " per 1,000 polls"),
        (
            "Python allocated blocks slope",
            per_1000(slope([(m["polls"], m["blocks"]) for m in in_phase]), "blocks")
            + " per 1,000 polls",
        ),
        (
            "SQLite's own memory (page caches: bounded) at the end / slope",
            f"{mib(held.get('sqlite', 0))} / "
            + per_1000(slope([(m["polls"], m.get("sqlite", 0)) for m in in_phase]))
            + " per 1,000 polls",
        ),
        (
            "import floor: the daemon's modules / + apprise",
            f"{mib(floors[_DAEMON_FLOOR])} / {mib(floors['+ apprise with a URL checked'])}",
        ),
        (
            "rules' windows: samples held / full (bounded)",
            f"{held.get('window_samples', 0)} / {full} "
            f"({mib(held.get('window_samples', 0) * SAMPLE_BYTES)} packed; full "
            f"{mib(full * SAMPLE_BYTES)})",
        ),
    ]
    if any("traced" in m for m in in_phase):
        traced = slope([(m["polls"], m["traced"]) for m in in_phase if "traced" in m])
        rows.append(("traced Python memory slope", per_1000(traced) + " per 1,000 polls"))
    print(table(["steady state", "value"], rows))
    if args.trace:
        print("\n(tracemalloc on: RSS includes its own bookkeeping; no verdict)")
        return []
    growth = (rss_slope or 0.0) * 10_000
    return [
        Result(
            "daemon RSS",
            f"{args.accounts} accounts, highest RSS over {polls} polls after the warm-up",
            f"{mib(highest)} = {mb(highest)}",
            "<= 100 MB (95.4 MiB)",
            verdict(highest <= TARGET_BYTES),
        ),
        Result(
            "daemon RSS",
            f"{args.accounts} accounts, RSS growth per 10,000 polls (slope)",
            f"{growth / 2**20:+.2f} MiB = {growth / 1e6:+.2f} MB",
            "flat: < 1 MB",
            # A slope over a few hundred polls says nothing about 10,000: no verdict then.
            verdict(growth < FLAT_BYTES_PER_10K) if polls >= 5_000 else "too short to judge",
        ),
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add_common_args(parser)
    parser.add_argument("--accounts", type=int, default=None, help="default 20 (quick: 10)")
    parser.add_argument(
        "--interval", default="1s", help="poll interval (default 1s): one the daemon keeps up with"
    )
    parser.add_argument(
        "--cycles", type=int, default=None, help="measured daemon's cycles (default 1000)"
    )
    parser.add_argument(
        "--warmup-cycles",
        type=int,
        default=None,
        help="cycles before the measured phase (default 10; quick: 3)",
    )
    parser.add_argument(
        "--prefill",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="give each series --lookback-points of history before the measured daemon "
        "starts, so the rules' windows are full from its first poll (default on)",
    )
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
        default=None,
        help="forecast lookback as a number of poll intervals (default 144: what the default "
        "24 h holds at a 10-minute interval; with --default-config --cycles 4,320: the default "
        "3 d at the default 1 minute)",
    )
    parser.add_argument("--timeout", type=float, default=1500.0, help="stop after (seconds)")
    parser.add_argument(
        "--notifier",
        default=None,
        metavar="APPRISE_URL",
        help="configure one apprise notifier (critical alerts only), e.g. json://127.0.0.1:9/",
    )
    parser.add_argument(
        "--mark-every", type=int, default=1000, help="polls between the daemon's memory figures"
    )
    parser.add_argument(
        "--trace",
        type=int,
        default=0,
        metavar="FRAMES",
        help="run the daemon under tracemalloc (PYTHONTRACEMALLOC=FRAMES) and list where "
        "traced memory grew between marks; slows every poll several-fold",
    )
    parser.add_argument(
        "--default-config",
        action="store_true",
        help="measure the daemon with no config file (host collector) instead; ~1 min. With "
        "--cycles: its account polled every --interval that many times, windows full",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the bench and print its figures."""
    args = parse_args(argv)
    if args.default_config and args.cycles:
        return default_steady(args)
    if args.default_config:
        return default_config(args)
    args.lookback_points = args.lookback_points or 144
    cycles = args.cycles or (100 if args.quick else 1000)
    args.accounts = args.accounts or (10 if args.quick else 20)
    warmup = args.warmup_cycles if args.warmup_cycles is not None else (3 if args.quick else 10)
    header(
        "daemon RSS",
        f"Real daemon (subprocess), {args.accounts} http_json accounts on the loopback emulator "
        f"(no added latency, 4 readings per poll), interval {args.interval}, SQLite store, "
        f"/metrics scraped every {args.scrape_every:g} s, until every account has {cycles} runs. "
        "RSS = VmRSS from /proc/<pid>/status (resident memory, shared libraries included); "
        "anon = RssAnon, the private heap part (the rest is file-backed pages). Forecast "
        f"lookback = {args.lookback_points} intervals (as 24 h at 10 min; a copy of the default "
        "rule pack), so the per-poll rules work matches production's. "
        + (
            f"Windows pre-filled: {args.lookback_points} intervals of history written before "
            "each series' first sample (one seeding cycle, then the measured daemon starts). "
            if args.prefill
            else "Windows not pre-filled: they fill as the daemon polls. "
        )
        + f"Steady state = after {warmup} warm-up cycles."
        + (f" Daemon environment: {' '.join(args.daemon_env)}." if args.daemon_env else "")
        + (" One apprise notifier configured." if args.notifier else ""),
    )
    warn_if_trio()
    with tempfile.TemporaryDirectory(prefix="qw-bench-rss-") as tmp:
        floors = import_floor(Path(tmp))
        print(table(["import floor", "RSS"], [(k, mib(v)) for k, v in floors.items()]))
        print()
        trace_dir = Path(tmp) / "memtrace"
        env = daemon_env(args)
        env |= memtrace_env(trace_dir, (cycles + 2) * args.accounts, args.mark_every)
        if args.trace:
            env["PYTHONTRACEMALLOC"] = str(args.trace)
        samples, facts = run_daemon(Path(tmp), args, cycles, env)
        marks = read_marks(trace_dir)
        growth = growth_tables(trace_dir, marks) if args.trace else ""
    print_run(samples, facts, args, cycles)
    print()
    if marks:
        print(marks_table(marks, args.lookback_points))
        print()
    if growth:
        print(growth)
        print()
    results = steady_state(samples, marks, floors, args, warmup)
    first_full = at_cycle(samples, 1)
    results.append(
        Result(
            "daemon RSS",
            f"{args.accounts} accounts, RSS at start / after first cycle",
            f"{mib(samples[0].rss)} / {mib(first_full.rss) if first_full else 'n/a'}",
        )
    )
    write_results(
        args.json,
        results,
        {
            "floors": floors,
            "marks": marks,
            "facts": facts,
            "samples": [s.__dict__ for s in samples[:: max(1, len(samples) // 400)]],
        },
    )
    return 0


def print_run(
    samples: list[Sample], facts: dict[str, Any], args: argparse.Namespace, cycles: int
) -> None:
    """The run's milestones, its pace and what the daemon logged."""
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
            ["when", "elapsed", "cycles", "polls", "RSS", "of which anon", "peak RSS", "CPU"],
            [
                (
                    label,
                    f"{s.elapsed:.1f} s",
                    s.cycles,
                    s.polls,
                    f"{mib(s.rss)} = {mb(s.rss)}",
                    mib(s.anon),
                    mib(s.hwm),
                    f"{s.cpu:.1f} s",
                )
                for label, s in milestones
            ],
        )
    )
    first_full = at_cycle(samples, 1)
    period = (
        (last.elapsed - first_full.elapsed) / max(1, last.cycles - first_full.cycles)
        if first_full
        else float("nan")
    )
    if facts["prefilled"]:
        print(f"\n{facts['prefilled']} history samples written before the measured start")
    print(
        f"\n{facts['requests']} polls served to the measured daemon; one cycle took "
        f"{period:.2f} s on average (interval {args.interval} + scheduler jitter); daemon CPU "
        f"{last.cpu / max(1, facts['requests']) * 1000:.1f} ms per poll, "
        f"{last.cpu / max(last.elapsed, 1e-9):.0%} of one core; SQLite files "
        f"{mib(facts['db_bytes'])} at the end"
    )
    if facts["skipped"]:
        print(
            f"APScheduler skipped {facts['skipped']} runs whose previous run was still going "
            "(the daemon was saturated: polls were due faster than it could do them)"
        )
    if facts["warnings"]:
        print("other WARNING lines in the daemon's log (first 5):")
        for line in facts["warnings"]:
            print(f"  {line}")


if __name__ == "__main__":
    sys.exit(main())
