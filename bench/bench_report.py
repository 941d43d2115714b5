"""`quota-watch report` benchmark over 90 days of history for 100 accounts x 4 limits.

Builds the SQLite database the daemon would hold after 90 days of 10-minute polls:
- the newest hours through Store.record_poll (series, samples, runs, account status, state);
- the older samples (90 days, every 10 min) and the run log (runs retention, 14 days) by bulk
  INSERTs through SQLAlchemy Core on the store's own tables and column types, so the rows are
  byte-for-byte what the store writes;
- then the store's own Store.rollup() folds hourly and daily rollups and
  Store.apply_retention() (default retention: raw samples 35 days) prunes what it would.
Stores every series' forecast as the daemon does (schema 0003), then
times `python -m quota_watch report -c cfg` (subprocess, table and json) end to end, `history`,
the same report in-process, and the positions with the stored forecasts vs fitted on the fly.

    python bench/bench_report.py            # 100 accounts, 90 days (~4 min, mostly building)
    python bench/bench_report.py --quick    # 10 accounts, 90 days
    python bench/bench_report.py --db /tmp/report.db   # keep the database, reuse it next run
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import tomli_w
from _common import (
    Result,
    add_common_args,
    header,
    isolated_env,
    median,
    mib,
    ms,
    table,
    verdict,
    write_results,
)
from sqlalchemy import create_engine, insert, select
from typer.testing import CliRunner

from quota_watch.cli.app import app as cli_app
from quota_watch.collect.periods import current_period
from quota_watch.config.settings import RetentionSettings
from quota_watch.sdk import LimitSpec
from quota_watch.store.facade import Store
from quota_watch.store.models import RunRecord, StoredReading
from quota_watch.store.tables import COLLECTOR_RUN, SAMPLE, SERIES

STEP = timedelta(minutes=10)
TARGET_SECONDS = 0.35  # issue #16
"""Issue #5: the report stays under 0.5 s on 90 days of history for 100 accounts."""
PROVIDER = "http_json"
#: name -> (limit declaration, value at hour h of its period for spread s, cap)
LIMITS: dict[str, dict[str, Any]] = {
    "requests": {
        "title": "Requests per day",
        "unit": "count",
        "measure": "cumulative",
        "period": "daily",
        "cap": 100_000,
    },
    "storage": {
        "title": "Stored bytes",
        "unit": "bytes",
        "measure": "level",
        "period": "none",
        "cap": 5e8,
    },
    "egress": {
        "title": "Egress per month",
        "unit": "bytes",
        "measure": "cumulative",
        "period": "calendar_month",
        "cap": 1e11,
    },
    "build_time": {
        "title": "Build minutes per month",
        "unit": "seconds",
        "measure": "cumulative",
        "period": "calendar_month",
        "cap": 360_000,
    },
}
SPECS = {name: LimitSpec.model_validate(decl) for name, decl in LIMITS.items()}
RATE_PER_HOUR = {"requests": 3_000.0, "storage": 1e5, "egress": 2e7, "build_time": 150.0}


def account_names(count: int) -> list[str]:
    """Account names r-001, r-002, ..."""
    return [f"r-{i:03d}" for i in range(1, count + 1)]


def spread(account: str) -> float:
    """Shards run at different loads (1x to 1.75x): some reach warning or critical."""
    return 1.0 + 0.25 * (int(account[2:]) % 4)


def value_at(limit: str, account: str, ts: datetime, origin: datetime) -> float:
    """The reading at `ts`: cumulative values grow from their period start, levels from origin."""
    period = current_period(SPECS[limit].period, ts)
    start = period.start if period.start is not None else origin
    hours = (ts - start).total_seconds() / 3600
    base = 1e8 if limit == "storage" else 0.0
    return base * spread(account) + RATE_PER_HOUR[limit] * spread(account) * hours


def readings(account: str, ts: datetime, origin: datetime) -> list[StoredReading]:
    """What the poller would store for one poll of `account` at `ts`."""
    out = []
    for limit, spec in SPECS.items():
        period = current_period(spec.period, ts)
        out.append(
            StoredReading(
                provider=PROVIDER,
                account=account,
                limit=limit,
                resource=None,
                unit=spec.unit.value,
                measure=spec.measure.value,
                value=value_at(limit, account, ts, origin),
                cap=spec.cap,
                cap_source="catalogue",
                period_start=period.start,
                period_end=period.end,
                ts=ts,
            )
        )
    return out


def times(start: datetime, end: datetime) -> Iterator[datetime]:
    """Poll times every STEP in [start, end)."""
    ts = start
    while ts < end:
        yield ts
        ts += STEP


def write_config(path: Path, db: Path, names: list[str]) -> None:
    """A daemon config listing the accounts (http_json; the report never polls them)."""
    accounts = [
        {
            "name": name,
            "collector": "http_json",
            "interval": "10m",
            "options": {"url": "http://127.0.0.1:9/usage", "limits": _declared()},
        }
        for name in names
    ]
    document = {"store": {"url": f"sqlite:///{db}"}, "accounts": accounts}
    path.write_text(tomli_w.dumps(document), encoding="utf-8")


def _declared() -> dict[str, Any]:
    return {name: {**decl, "value": f"limits.{name}.used"} for name, decl in LIMITS.items()}


async def build(
    db: Path, names: list[str], now: datetime, live_hours: float, days: int = 90
) -> dict[str, Any]:
    """Build the 90-day database; returns how long each step took and what it wrote."""
    origin = now - timedelta(days=days)
    live_from = now - timedelta(hours=live_hours)
    facts: dict[str, Any] = {}
    store = await Store.open(f"sqlite:///{db}")
    try:
        t0 = time.perf_counter()
        polls = 0
        for ts in times(live_from, now + STEP):
            for name in names:
                run = RunRecord(
                    PROVIDER, name, ts, ts + timedelta(milliseconds=60), "success", None, 4
                )
                await store.record_poll(run, readings(name, ts, origin), {})
                polls += 1
        facts["record_poll"] = (polls, time.perf_counter() - t0)
    finally:
        await store.close()

    t0 = time.perf_counter()
    engine = create_engine(f"sqlite:///{db}")
    rows = 0
    with engine.begin() as conn:
        ids = {
            (account, limit): series_id
            for series_id, account, limit in conn.execute(
                select(SERIES.c.id, SERIES.c.account, SERIES.c.limit)
            )
        }
        batch: list[dict[str, Any]] = []
        for ts in times(origin, live_from):
            for name in names:
                for limit, spec in SPECS.items():
                    batch.append(
                        {
                            "series_id": ids[(name, limit)],
                            "ts": ts,
                            "value": value_at(limit, name, ts, origin),
                            "cap": spec.cap,
                        }
                    )
            if len(batch) >= 50_000:
                conn.execute(insert(SAMPLE), batch)
                rows += len(batch)
                batch = []
        if batch:
            conn.execute(insert(SAMPLE), batch)
            rows += len(batch)
        runs = [
            {
                "provider": PROVIDER,
                "account": name,
                "started_at": ts,
                "finished_at": ts + timedelta(milliseconds=60),
                "outcome": "success",
                "error": None,
                "readings": 4,
            }
            for ts in times(live_from - RetentionSettings().runs, live_from)
            for name in names
        ]
        conn.execute(insert(COLLECTOR_RUN), runs)
    engine.dispose()
    facts["bulk_insert"] = (rows + len(runs), time.perf_counter() - t0)

    store = await Store.open(f"sqlite:///{db}")
    try:
        t0 = time.perf_counter()
        buckets = await store.rollup(now)
        facts["rollup"] = (buckets, time.perf_counter() - t0)
        retention = RetentionSettings()
        t0 = time.perf_counter()
        deleted = await store.apply_retention(
            now,
            samples=retention.samples,
            hourly=retention.hourly,
            daily=retention.daily,
            runs=retention.runs,
        )
        facts["retention"] = (sum(deleted.values()), time.perf_counter() - t0)
    finally:
        await store.close()
    return facts


async def migrate(db: Path) -> None:
    """Bring a kept database to the current schema (Store.open migrates)."""
    store = await Store.open(f"sqlite:///{db}")
    await store.close()


async def store_forecasts(db: Path, config_path: Path) -> tuple[int, float]:
    """Store every series' forecast as the daemon does (Alerting.after_poll writes them with
    the alert states, or in a batch): computed by the engine at the newest reading's time."""
    from quota_watch.config.load import load_config
    from quota_watch.engine.rulepack import load_rule_pack
    from quota_watch.reporting.command import account_runtimes
    from quota_watch.status.position import forecast_record, load_positions

    config = load_config(config_path)
    runtimes = account_runtimes(config, lambda _account: True)
    pack = load_rule_pack(config.settings.alerts.rule_pack)
    t0 = time.perf_counter()
    store = await Store.open(f"sqlite:///{db}")
    try:
        newest = max(r.ts for r in await store.latest())
        positions = await load_positions(
            store, runtimes, pack, config.settings.rules, newest, stored_forecasts=False
        )
        records = [
            forecast_record(
                p.reading.account, p.reading.limit, p.reading.resource, p.forecast, newest
            )
            for p in positions
            if p.forecast is not None
        ]
        await store.save_alerts([], [], forecasts=[r for r in records if r is not None])
    finally:
        await store.close()
    return len(records), time.perf_counter() - t0


def db_facts(db: Path, *, checkpoint: bool = True) -> dict[str, Any]:
    """Row counts, file size and live (non-free) size of the database (after folding the
    write-ahead log into the file when `checkpoint`; else read only)."""
    conn = sqlite3.connect(db) if checkpoint else sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        if checkpoint:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        counts = {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("series", "sample", "rollup_hourly", "rollup_daily", "collector_run")
        }
        oldest = {
            t: conn.execute(f"SELECT min({c}) FROM {t}").fetchone()[0]
            for t, c in (("sample", "ts"), ("rollup_hourly", "bucket_start"))
        }
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    finally:
        conn.close()
    return {
        "counts": counts,
        "oldest": oldest,
        "file_bytes": db.stat().st_size,
        "live_bytes": (pages - free) * page,
    }


def time_process(
    argv: list[str], workdir: Path, repeats: int, env_extra: Mapping[str, str] | None = None
) -> tuple[list[float], list[float], str]:
    """Wall and CPU seconds (user + system) of `argv` in a fresh interpreter each run, after
    one warm-up run (it may still be writing bytecode caches), and its last output."""
    walls, cpus = [], []
    out = ""
    for attempt in range(repeats + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(
            argv,
            cwd=workdir,
            # Wide enough that the table keeps every column and one line per row.
            env=isolated_env(workdir, {"COLUMNS": "200", **(env_extra or {})}),
            capture_output=True,
            text=True,
            timeout=300,
        )
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr}")
        if attempt:
            walls.append(wall)
            cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        out = proc.stdout
    return walls, cpus, out


def time_cli(
    workdir: Path, config: Path | None, args: list[str], repeats: int
) -> tuple[list[float], list[float], str]:
    """Wall and CPU times of `python -m quota_watch ARGS` (see time_process) and its output."""
    argv = [sys.executable, "-m", "quota_watch", *args]
    return time_process([*argv, *([] if config is None else ["-c", str(config)])], workdir, repeats)


#: The peer: the smallest useful report, a bare sqlite3 reader printing one row per series
#: (latest value, cap, utilization, period end) -- no config, no rules, no forecasts.
_SQLITE_PEER = """
import sqlite3, sys
conn = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
rows = conn.execute(
    'SELECT provider, account, "limit", resource, last_value, last_cap, period_end '
    'FROM series ORDER BY account, "limit", resource'
).fetchall()
print(f"{'account':<24} {'limit':<16} {'value':>14} {'cap':>14} {'used':>6} period end")
for provider, account, limit, resource, value, cap, end in rows:
    used = f"{value / cap:.0%}" if cap else "-"
    name = limit + (f"[{resource}]" if resource else "")
    print(f"{account:<24} {name:<16} {value:>14.6g} {cap or 0:>14.6g} {used:>6} {end or '-'}")
"""


def time_sqlite_peer(workdir: Path, db: Path, repeats: int) -> tuple[list[float], list[float], int]:
    """Wall and CPU times of the bare sqlite3 reader over `db` (see time_process) and the rows
    it printed."""
    walls, cpus, out = time_process([sys.executable, "-c", _SQLITE_PEER, str(db)], workdir, repeats)
    return walls, cpus, len(out.splitlines()) - 1


#: The report's steps in a fresh interpreter, as `quota-watch report` runs them (GC off, as
#: `quota_watch.cli.main` has it for this command): first every module the CLI run imports,
#: then the config, the runtimes, the store read and the table, each timed on its own.
_STEPS = """
import gc, importlib, json, sys, time
t0 = time.perf_counter()
gc.disable()
for name in json.loads(sys.argv[2]):
    importlib.import_module(name)
t1 = time.perf_counter()
import asyncio
from pathlib import Path
from quota_watch.config.load import load_config
from quota_watch.reporting import command
config = load_config(Path(sys.argv[1]), accounts=command.report_scope(None, None, None))
t2 = time.perf_counter()
request = command.report_request(config, None, None, None, None)
runtimes = command.account_runtimes(config, request.selects)
others = command.pool_runtimes(config, runtimes)
t3 = time.perf_counter()
now = command.utcnow()
found, advice = asyncio.run(command.read_report(config.store_url(), config, runtimes, others, now))
t4 = time.perf_counter()
text = command.render("table", found, now, advice, width=200)
t5 = time.perf_counter()
print(json.dumps({"imports": t1 - t0, "config": t2 - t1, "runtimes": t3 - t2,
                  "store": t4 - t3, "render": t5 - t4}))
"""

#: The modules a `quota-watch report` run has imported when it ends (a fresh interpreter).
_IMPORTED = """
import contextlib, io, json, sys
sys.argv = ["quota-watch", "report", "-c", sys.argv[1]]
from quota_watch.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main()
    except SystemExit:
        pass
print(json.dumps([m for m in sys.modules if m != "__main__"]))
"""


def step_breakdown(workdir: Path, config: Path, repeats: int) -> dict[str, list[float]]:
    """Seconds of each step of the report in a fresh interpreter (see _STEPS), per run."""
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORTED, str(config)],
        cwd=workdir,
        env=isolated_env(workdir, {"COLUMNS": "200"}),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    modules = proc.stdout.splitlines()[-1]
    found: dict[str, list[float]] = {}
    for attempt in range(repeats + 1):
        _, _, out = time_process([sys.executable, "-c", _STEPS, str(config), modules], workdir, 0)
        if attempt:
            for step, seconds in json.loads(out.splitlines()[-1]).items():
                found.setdefault(step, []).append(seconds)
    return found


def import_breakdown(workdir: Path, config: Path) -> tuple[float, list[tuple[str, float]]]:
    """`python -X importtime -m quota_watch report`: total import seconds, and the packages
    whose own module code takes longest to import (self time summed per top-level package)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "quota_watch", "report", "-c", str(config)],
        cwd=workdir,
        env=isolated_env(workdir, {"COLUMNS": "200"}),
        capture_output=True,
        text=True,
        timeout=300,
    )
    by_package: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, _cumulative, name = line.removeprefix("import time:").split("|")
        package = name.strip().split(".")[0]
        by_package[package] = by_package.get(package, 0.0) + int(own) / 1e6
    top = sorted(by_package.items(), key=lambda item: item[1], reverse=True)
    return sum(by_package.values()), top[:8]


def positions_paths(config_path: Path, db: Path, repeats: int) -> dict[str, list[float]]:
    """Wall times of load_positions on the report's reader with the daemon's stored forecasts
    (the steady state) and with every forecast fitted from the samples (what a report pays
    for series polled by `collect --once`, which stores no forecast)."""
    from quota_watch.config.load import load_config
    from quota_watch.engine.rulepack import load_rule_pack
    from quota_watch.reporting.command import account_runtimes, open_reader, utcnow
    from quota_watch.status.position import load_positions

    config = load_config(config_path)
    runtimes = account_runtimes(config, lambda _account: True)
    pack = load_rule_pack(config.settings.alerts.rule_pack)

    async def run() -> dict[str, list[float]]:
        store = await open_reader(f"sqlite:///{db}")
        walls: dict[str, list[float]] = {"stored": [], "fitted": []}
        try:
            for _ in range(repeats):
                for name, stored in (("stored", True), ("fitted", False)):
                    t0 = time.perf_counter()
                    await load_positions(
                        store, runtimes, pack, (), utcnow(), stored_forecasts=stored
                    )
                    walls[name].append(time.perf_counter() - t0)
        finally:
            await store.close()
        return walls

    return asyncio.run(run())


def in_process(config: Path, repeats: int, fmt: str) -> list[float]:
    """Wall times of the real `report` command run in this process (typer's CliRunner): the
    interpreter start and first imports are paid once, everything else each time."""
    runner = CliRunner()
    walls = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = runner.invoke(cli_app, ["report", "-c", str(config), "--format", fmt])
        walls.append(time.perf_counter() - t0)
        if result.exit_code != 0:
            raise RuntimeError(f"report exited {result.exit_code}: {result.output}")
    return walls


#: steps of the report command whose cumulative time the breakdown shows, if they exist
STEPS = (
    "load_config",
    "account_runtimes",
    "open_reader",
    "load_positions",
    "daily_maxima",
    "render",
)


def breakdown(config: Path) -> list[tuple[str, float]]:
    """Cumulative seconds of the report command's main steps (cProfile of one warm run)."""
    runner = CliRunner()
    runner.invoke(cli_app, ["report", "-c", str(config)])  # warm
    profiler = cProfile.Profile()
    profiler.enable()
    runner.invoke(cli_app, ["report", "-c", str(config)])
    profiler.disable()
    raw: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    found: dict[str, float] = {}
    for (filename, _line, name), (_cc, _nc, _tt, cumtime, _callers) in raw.items():
        if name in STEPS and "quota_watch" in filename:
            found[name] = max(found.get(name, 0.0), cumtime)
    return [(name, found[name]) for name in STEPS if name in found]


@dataclass(frozen=True)
class Timed:
    """Wall and CPU seconds of the runs of one command, and its last output."""

    walls: list[float]
    cpus: list[float]
    out: str = ""


def measure_cli(
    workdir: Path, config: Path, db: Path, account: str, repeats: int
) -> dict[str, Timed]:
    """Every command line of the bench, fresh interpreters, one after the other: the bare
    interpreter (the floor), --help, the sqlite3 peer, report (table, json), history, plan."""
    found: dict[str, Timed] = {}
    found["python"] = Timed(*time_process([sys.executable, "-c", "pass"], workdir, repeats))
    found["help"] = Timed(*time_cli(workdir, None, ["--help"], repeats))
    peer_walls, peer_cpus, peer_rows = time_sqlite_peer(workdir, db, repeats)
    found["peer"] = Timed(peer_walls, peer_cpus, str(peer_rows))
    found["table"] = Timed(*time_cli(workdir, config, ["report"], repeats))
    found["json"] = Timed(*time_cli(workdir, config, ["report", "--format", "json"], repeats))
    history = ["history", "-a", account, "-l", "requests", "--days", "30"]
    found["history"] = Timed(*time_cli(workdir, config, history, repeats))
    found["plan"] = Timed(*time_cli(workdir, config, ["plan"], repeats))
    return found


def print_figures(
    cli: Mapping[str, Timed],
    rows: int,
    statuses: list[str],
    steps: Mapping[str, list[float]],
    local: Mapping[str, list[float]],
    paths: Mapping[str, list[float]],
) -> None:
    """The figures table, then the report's steps in a fresh interpreter."""
    floor = median(cli["python"].walls)
    peer = median(cli["peer"].walls)
    what = {
        "python": ("bare `python -c pass` (the floor)", "interpreter start only"),
        "help": ("CLI `--help`", "interpreter, CLI imports, every command's help"),
        "peer": ("peer: bare sqlite3 reader", f"one SELECT, {cli['peer'].out} rows printed"),
        "table": ("CLI `report` (table)", "imports, config, store reads, rules, render"),
        "json": ("CLI `report --format json`", f"same; {rows} rows, statuses {statuses}"),
        "history": ("CLI `history -a ... -l requests --days 30`", "one series' rollups"),
        "plan": ("CLI `plan`", "pools and advice from the same read"),
    }
    figures = [
        (
            label,
            ms(median(cli[key].walls)),
            ms(min(cli[key].walls)),
            ms(median(cli[key].cpus)),
            f"{median(cli[key].walls) / floor:.1f}x",
            f"{median(cli[key].walls) / peer:.1f}x",
            note,
        )
        for key, (label, note) in what.items()
    ]
    figures += [
        (
            f"in-process `report --format {k}`",
            ms(median(v)),
            ms(min(v)),
            "",
            "",
            "",
            "the same command, imports already done",
        )
        for k, v in local.items()
    ]
    figures += [
        (f"positions, {label}", ms(median(paths[key])), ms(min(paths[key])), "", "", "", note)
        for key, label, note in (
            ("stored", "daemon's stored forecasts", "in-process: the steady state"),
            ("fitted", "forecasts fitted here", "no stored forecast: samples + fits"),
        )
    ]
    headers = ["what", "median wall", "min wall", "median CPU", "/ python", "/ peer", "note"]
    print(table(headers, figures))
    total = sum(median(v) for v in steps.values())
    print(
        "\n`report` step by step in a fresh interpreter (median wall; GC off as in the CLI): "
        + ", ".join(f"{step} {ms(median(v))}" for step, v in steps.items())
        + f"; sum {ms(total)} + interpreter start {ms(floor)}"
    )


def ready_as_is(db: Path) -> bool:
    """Whether a kept database is at the current schema with every series' forecast stored:
    then the bench reads it and never writes it (no migration, no forecast write)."""
    from quota_watch.store.revision import HEAD_REVISION

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        series = conn.execute("SELECT count(*) FROM series").fetchone()[0]
        stored = conn.execute("SELECT count(*) FROM series_forecast").fetchone()[0]
    except sqlite3.Error:
        return False
    finally:
        conn.close()
    return revision is not None and revision[0] == HEAD_REVISION and 0 < series <= stored


def main(argv: list[str] | None = None) -> int:
    """Run the bench and print its figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add_common_args(parser)
    parser.add_argument("--accounts", type=int, default=None, help="default 100 (quick: 10)")
    parser.add_argument("--repeats", type=int, default=None, help="CLI runs per format")
    parser.add_argument("--days", type=int, default=90, help="days of history (default 90)")
    parser.add_argument(
        "--db",
        type=Path,
        default=None,
        help="keep the database at this path and reuse it when it exists (skips the build; "
        "the report then runs later than the newest poll, so some rows may show as stale); "
        "one at the current schema with its forecasts stored is only read, never written",
    )
    args = parser.parse_args(argv)
    count = args.accounts or (10 if args.quick else 100)
    repeats = args.repeats or (2 if args.quick else 10)
    live_hours = 1.0 if args.quick else 6.0
    names = account_names(count)
    header(
        "report",
        f"{count} accounts x {len(LIMITS)} limits, a poll every 10 min for {args.days} days "
        f"(the newest {live_hours:g} h through Store.record_poll, older ones bulk-inserted), "
        "rolled up and pruned by the store itself (raw samples kept 35 days, hourly rollups "
        "400). CLI times are wall clock of a fresh `python -m quota_watch report` process.",
    )
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    now -= timedelta(minutes=now.minute % 10)
    with tempfile.TemporaryDirectory(prefix="qw-bench-report-") as tmp:
        workdir = Path(tmp)
        db = args.db.resolve() if args.db is not None else workdir / "report.db"
        config = workdir / "report.toml"
        write_config(config, db, names)
        if db.exists() and ready_as_is(db):
            built = {"reused as is (read only)": (0, 0.0)}
        elif db.exists():
            built = {"reused": (0, 0.0)}
            asyncio.run(migrate(db))  # a database kept by an older release
            built["forecasts"] = asyncio.run(store_forecasts(db, config))
        else:
            built = asyncio.run(build(db, names, now, live_hours, args.days))
            built["forecasts"] = asyncio.run(store_forecasts(db, config))
        print(
            table(
                ["build step", "rows", "seconds"],
                [(step, n, f"{seconds:.1f}") for step, (n, seconds) in built.items()],
            )
        )
        facts = db_facts(db, checkpoint="reused as is (read only)" not in built)
        print(
            f"\ndatabase: {mib(facts['file_bytes'])} file, {mib(facts['live_bytes'])} in use; "
            + ", ".join(f"{t} {n:,}" for t, n in facts["counts"].items())
        )
        print(
            f"oldest raw sample {facts['oldest']['sample']}, oldest hourly bucket "
            f"{facts['oldest']['rollup_hourly']}\n"
        )
        cli = measure_cli(workdir, config, db, names[0], repeats)
        rows = json.loads(cli["json"].out)
        expected = count * len(LIMITS)
        table_part = cli["table"].out.split("\nAdvice:\n")[0]  # the plan's advice follows
        table_lines = [line for line in table_part.splitlines() if line.strip()]
        if len(rows) != expected or len(table_lines) != expected + 1:
            raise RuntimeError(
                f"report printed {len(rows)} JSON rows and {len(table_lines) - 1} table rows, "
                f"expected {expected}"
            )
        statuses = {r["status"] for r in rows}
        steps = step_breakdown(workdir, config, repeats)
        imports, top_imports = import_breakdown(workdir, config)
        local = {
            "table": in_process(config, 5 if args.quick else 10, "table"),
            "json": in_process(config, 5 if args.quick else 10, "json"),
        }
        profiled = breakdown(config)
        paths = positions_paths(config, db, 3 if args.quick else 5)
    print_figures(cli, len(rows), sorted(statuses), steps, local, paths)
    print(
        "\nwhere a warm in-process run spends its time (cProfile, cumulative): "
        + ", ".join(f"{name} {ms(sec)}" for name, sec in profiled)
    )
    print(
        f"\nimports take {ms(imports)} of the CLI's run (python -X importtime, own time "
        "summed); by package: " + ", ".join(f"{name} {ms(sec)}" for name, sec in top_imports)
    )
    table_wall = median(cli["table"].walls)
    json_wall = median(cli["json"].walls)
    peer = median(cli["peer"].walls)
    results = [
        Result(
            "report",
            f"`quota-watch report`, {count} accounts x {len(LIMITS)} limits, "
            f"{args.days} days of history",
            f"{ms(table_wall)} table, {ms(json_wall)} json (median wall)",
            f"< {ms(TARGET_SECONDS)}",
            verdict(max(table_wall, json_wall) < TARGET_SECONDS),
            note=f"bare python {ms(median(cli['python'].walls))}; --help "
            f"{ms(median(cli['help'].walls))}; DB {mib(facts['file_bytes'])}",
        ),
        Result(
            "report",
            "`report` vs a bare sqlite3 reader of the same rows",
            f"{table_wall / peer:.1f}x ({ms(table_wall)} vs {ms(peer)})",
        ),
        Result(
            "report",
            "the same command in-process (imports already done)",
            f"{ms(median(local['table']))} table, {ms(median(local['json']))} json",
        ),
    ]
    write_results(args.json, results, {"build": built, "db": facts})
    return 0


if __name__ == "__main__":
    sys.exit(main())
