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
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
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


def db_facts(db: Path) -> dict[str, Any]:
    """Row counts, file size and live (non-free) size of the database."""
    conn = sqlite3.connect(db)
    try:
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


def time_cli(
    workdir: Path, config: Path | None, args: list[str], repeats: int
) -> tuple[list[float], str]:
    """Wall times of `python -m quota_watch ARGS` (fresh interpreter each run, after one
    warm-up run) and its output."""
    walls = []
    out = ""
    for attempt in range(repeats + 1):
        t0 = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "quota_watch",
                *args,
                *([] if config is None else ["-c", str(config)]),
            ],
            cwd=workdir,
            # Wide enough that the table keeps every column and one line per row.
            env=isolated_env(workdir, {"COLUMNS": "200"}),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if attempt:  # the first run is a warm-up: it may still be writing bytecode caches
            walls.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            raise RuntimeError(
                f"quota-watch {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}"
            )
        out = proc.stdout
    return walls, out


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


def time_sqlite_peer(workdir: Path, db: Path, repeats: int) -> tuple[list[float], int]:
    """Wall times of the bare sqlite3 reader over `db` (fresh interpreter each run, after one
    warm-up run) and the rows it printed."""
    walls = []
    out = ""
    for attempt in range(repeats + 1):
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", _SQLITE_PEER, str(db)],
            cwd=workdir,
            env=isolated_env(workdir),
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        if attempt:
            walls.append(time.perf_counter() - t0)
        out = proc.stdout
    return walls, len(out.splitlines()) - 1


def import_breakdown(workdir: Path, config: Path) -> tuple[float, list[tuple[str, float]]]:
    """`python -X importtime -m quota_watch report`: total import seconds, and the packages
    whose own module code takes longest to import (self time summed per top-level package)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "quota_watch", "report", "-c", str(config)],
        cwd=workdir,
        env=isolated_env(workdir),
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
        "the report then runs later than the newest poll, so some rows may show as stale)",
    )
    args = parser.parse_args(argv)
    count = args.accounts or (10 if args.quick else 100)
    repeats = args.repeats or (2 if args.quick else 5)
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
        if db.exists():
            built = {"reused": (0, 0.0)}
            asyncio.run(migrate(db))  # a database kept by an older release
        else:
            built = asyncio.run(build(db, names, now, live_hours, args.days))
        built["forecasts"] = asyncio.run(store_forecasts(db, config))
        print(
            table(
                ["build step", "rows", "seconds"],
                [(step, n, f"{seconds:.1f}") for step, (n, seconds) in built.items()],
            )
        )
        facts = db_facts(db)
        print(
            f"\ndatabase: {mib(facts['file_bytes'])} file, {mib(facts['live_bytes'])} in use; "
            + ", ".join(f"{t} {n:,}" for t, n in facts["counts"].items())
        )
        print(
            f"oldest raw sample {facts['oldest']['sample']}, oldest hourly bucket "
            f"{facts['oldest']['rollup_hourly']}\n"
        )
        startup, _ = time_cli(workdir, None, ["--help"], repeats)
        peer_walls, peer_rows = time_sqlite_peer(workdir, db, repeats)
        table_walls, table_out = time_cli(workdir, config, ["report"], repeats)
        json_walls, json_out = time_cli(workdir, config, ["report", "--format", "json"], repeats)
        rows = json.loads(json_out)
        expected = count * len(LIMITS)
        table_part = table_out.split("\nAdvice:\n")[0]  # the plan's advice follows the rows
        table_lines = [line for line in table_part.splitlines() if line.strip()]
        if len(rows) != expected or len(table_lines) != expected + 1:
            raise RuntimeError(
                f"report printed {len(rows)} JSON rows and {len(table_lines) - 1} table rows, "
                f"expected {expected}"
            )
        statuses = {r["status"] for r in rows}
        imports, top_imports = import_breakdown(workdir, config)
        local = {
            "table": in_process(config, 5 if args.quick else 10, "table"),
            "json": in_process(config, 5 if args.quick else 10, "json"),
        }
        steps = breakdown(config)
        paths = positions_paths(config, db, 3 if args.quick else 5)
        history_walls, _ = time_cli(
            workdir, config, ["history", "-a", names[0], "-l", "requests", "--days", "30"], repeats
        )
    print(
        table(
            ["what", "median", "min", "includes"],
            [
                (
                    "CLI `report` (table)",
                    ms(median(table_walls)),
                    ms(min(table_walls)),
                    "interpreter start, imports, config, store reads, rules, forecasts, render",
                ),
                (
                    "CLI `report --format json`",
                    ms(median(json_walls)),
                    ms(min(json_walls)),
                    f"same; {len(rows)} rows, statuses {sorted(statuses)}",
                ),
                (
                    "peer: bare sqlite3 reader",
                    ms(median(peer_walls)),
                    ms(min(peer_walls)),
                    f"interpreter start, one SELECT, {peer_rows} rows printed; report / peer "
                    f"= {median(table_walls) / median(peer_walls):.1f}x",
                ),
                (
                    "CLI `--help` (start-up floor)",
                    ms(median(startup)),
                    ms(min(startup)),
                    "interpreter start and CLI imports only",
                ),
                (
                    "CLI `history -a ... -l requests --days 30`",
                    ms(median(history_walls)),
                    ms(min(history_walls)),
                    "one series: daily and hourly rollups, raw samples",
                ),
                (
                    "positions, daemon's stored forecasts",
                    ms(median(paths["stored"])),
                    ms(min(paths["stored"])),
                    "in-process load_positions: the steady state beside a daemon",
                ),
                (
                    "positions, forecasts fitted here",
                    ms(median(paths["fitted"])),
                    ms(min(paths["fitted"])),
                    "no stored forecast (series polled by `collect --once`): samples + fits",
                ),
                *[
                    (
                        f"in-process `report --format {k}`",
                        ms(median(v)),
                        ms(min(v)),
                        "the same command, imports already done",
                    )
                    for k, v in local.items()
                ],
            ],
        )
    )
    print(
        "\nwhere a warm in-process run spends its time (cProfile, cumulative): "
        + ", ".join(f"{name} {ms(sec)}" for name, sec in steps)
    )
    print(
        f"\nimports take {ms(imports)} of the CLI's run (python -X importtime); by package: "
        + ", ".join(f"{name} {ms(sec)}" for name, sec in top_imports)
    )
    results = [
        Result(
            "report",
            f"`quota-watch report`, {count} accounts x {len(LIMITS)} limits, "
            f"{args.days} days of history",
            f"{ms(median(table_walls))} table, {ms(median(json_walls))} json (median wall)",
            f"< {ms(TARGET_SECONDS)}",
            verdict(max(median(table_walls), median(json_walls)) < TARGET_SECONDS),
            note=f"start-up floor {ms(median(startup))}; DB {mib(facts['file_bytes'])}",
        ),
        Result(
            "report",
            "`report` vs a bare sqlite3 reader of the same rows",
            f"{median(table_walls) / median(peer_walls):.1f}x "
            f"({ms(median(table_walls))} vs {ms(median(peer_walls))})",
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
