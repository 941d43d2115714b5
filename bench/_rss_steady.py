"""Steady-state part of bench_daemon_rss: pre-filled windows, the daemon's memory hook, slopes.

The rules keep each series' samples over the forecast lookback in memory (status/window.py):
144 points a series at the default 24 h / 10 min. Filling them by polling takes 144 cycles
(24 min at a 10 s interval), and until then RSS rises by design. The bench instead writes that
much history into the store before the measured start (prefill_history), so the windows are
full at their first evaluation and what is left of the slope is everything else.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import tracemalloc
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from _common import mib, table

from quota_watch.daemon.memtrace import ENV as MEMTRACE_ENV

SAMPLE_BYTES = 16  # a window sample: an int64 time and a float64 value in two arrays
FLAT_BYTES_PER_10K = 1_000_000  # "flat": under 1 MB (1 % of the target) per 10,000 polls
_TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # the store's SQLite timestamps (SQLITE_DATETIME_FORMAT)


def mb(nbytes: float) -> str:
    """Bytes as SI megabytes with one decimal."""
    return f"{nbytes / 1e6:.1f} MB"


def prefill_history(db: Path, interval_seconds: float, points: int) -> int:
    """Give every series `points` samples before its oldest, one interval apart, with its
    oldest value; returns the rows written. Run on a stopped daemon's database."""
    conn = sqlite3.connect(db)
    try:
        oldest = conn.execute(
            "SELECT s.series_id, s.ts, s.value, s.cap FROM sample s JOIN "
            "(SELECT series_id, MIN(ts) AS ts FROM sample GROUP BY series_id) o "
            "ON s.series_id = o.series_id AND s.ts = o.ts"
        ).fetchall()
        step = timedelta(seconds=interval_seconds)
        rows = [
            (series, (datetime.fromisoformat(ts) - k * step).strftime(_TS_FORMAT), value, cap)
            for series, ts, value, cap in oldest
            for k in range(1, points + 1)
        ]
        conn.executemany("INSERT INTO sample (series_id, ts, value, cap) VALUES (?,?,?,?)", rows)
        conn.commit()
        return len(rows)
    finally:
        conn.close()


def memtrace_env(directory: Path, total_polls: int, every: int) -> dict[str, str]:
    """The daemon's environment for its memory hook: a mark every `every` polls."""
    marks = ",".join(str(m) for m in range(0, total_polls + every, every))
    return {MEMTRACE_ENV: f"{directory}:{marks}"}


def read_marks(directory: Path) -> list[dict[str, Any]]:
    """The hook's lines, in order."""
    path = directory / "marks.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def slope(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares dy/dx of `points` (None with fewer than 3 distinct x)."""
    if len({x for x, _ in points}) < 3:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / var


def per_1000(value: float | None, unit: str = "bytes") -> str:
    """A slope per poll as a per-1,000-polls figure."""
    if value is None:
        return "n/a"
    if unit == "bytes":
        return f"{value * 1000 / 2**20:+.3f} MiB ({value * 1000 / 1e6:+.3f} MB)"
    return f"{value * 1000:+.0f} {unit}"


def marks_table(marks: list[dict[str, Any]], lookback_points: int) -> str:
    """The hook's figures at each mark."""
    rows = []
    for m in marks:
        full = m.get("window_series", 0) * (lookback_points + 1)
        rows.append(
            (
                m["polls"],
                f"{mib(m['rss'])} = {mb(m['rss'])}",
                m["blocks"],
                mib(m["sqlite"]) if m.get("sqlite", -1) >= 0 else "n/a",
                f"{m.get('window_samples', 0)} / {full}",
                mib(m["traced"]) if "traced" in m else "-",
            )
        )
    return table(
        [
            "polls (measured)",
            "RSS",
            "Python blocks",
            "SQLite's memory",
            "window samples / full",
            "traced",
        ],
        rows,
    )


def _where(frames: Sequence[tracemalloc.Frame], depth: int = 5) -> str:
    shown = []
    for frame in reversed(frames):  # innermost first
        name = frame.filename
        for cut in ("site-packages/", "/quota_watch/", "/lib/python3"):
            if cut in name:
                name = name.split(cut, 1)[1]
                break
        shown.append(f"{name}:{frame.lineno}")
    return " < ".join(shown[:depth])


def growth_tables(directory: Path, marks: list[dict[str, Any]], top: int = 10) -> str:
    """Where traced memory grew between consecutive snapshots, by allocation traceback."""
    paths = [directory / f"polls-{m['mark']}.tracemalloc" for m in marks]
    found = [(m, p) for m, p in zip(marks, paths, strict=True) if p.exists()]
    out = []
    for (m0, p0), (m1, p1) in itertools.pairwise(found):
        before, after = tracemalloc.Snapshot.load(str(p0)), tracemalloc.Snapshot.load(str(p1))
        stats = after.compare_to(before, "traceback")
        total = sum(s.size_diff for s in stats)
        rows = [
            (f"{s.size_diff / 1024:+.1f} KiB", f"{s.count_diff:+d}", _where(s.traceback))
            for s in sorted(stats, key=lambda s: abs(s.size_diff), reverse=True)[:top]
        ]
        out.append(
            f"polls {m0['polls']} -> {m1['polls']}: traced {total / 1024:+.1f} KiB in all\n"
            + table(["growth", "blocks", "allocated at (innermost first)"], rows)
        )
    return "\n\n".join(out)
