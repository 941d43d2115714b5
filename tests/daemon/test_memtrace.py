"""The bench's memory hook: off by default, and when asked for, one line of figures per mark."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from quota_watch.daemon.memtrace import ENV, MemTrace, memtrace_tasks, sqlite_memory


def test_off_unless_the_environment_asks() -> None:
    assert MemTrace.from_env({}) is None
    assert MemTrace.from_env({ENV: ""}) is None


def test_the_marks_are_read_sorted_and_once(tmp_path: Path) -> None:
    trace = MemTrace.from_env({ENV: f"{tmp_path}:5000,1000,5000"})
    assert trace == MemTrace(tmp_path, (1000, 5000))


@pytest.mark.parametrize("value", ["1000", "/tmp/x:", "/tmp/x:a,b", ":1000", "/tmp/x:-1"])
def test_a_malformed_value_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match=ENV):
        MemTrace.from_env({ENV: value})


def test_one_line_per_mark_reached_and_no_snapshot_when_not_tracing(tmp_path: Path) -> None:
    done = [0]

    async def main() -> None:
        stop = asyncio.Event()
        trace = MemTrace(tmp_path, (0, 2, 4, 100))
        task = asyncio.create_task(trace.run(lambda: done[0], stop, lambda: {"held": 7}, 0.01))
        for _ in range(5):
            await asyncio.sleep(0.05)
            done[0] += 1
        await asyncio.sleep(0.2)
        stop.set()
        await asyncio.wait_for(task, 30)

    asyncio.run(main())
    lines = [json.loads(x) for x in (tmp_path / "marks.jsonl").read_text().splitlines()]
    assert [line["mark"] for line in lines] == [0, 2, 4]
    assert all(line["polls"] >= line["mark"] and line["held"] == 7 for line in lines)
    assert all(line["rss"] > 0 and line["blocks"] > 0 and "sqlite" in line for line in lines)
    assert "traced" not in lines[0]
    assert not list(tmp_path.glob("*.tracemalloc"))


def test_under_tracemalloc_a_snapshot_per_mark(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import asyncio, sys
        from pathlib import Path
        from quota_watch.daemon.memtrace import MemTrace

        async def main():
            stop = asyncio.Event()
            await MemTrace(Path(sys.argv[1]), (0,)).run(lambda: 0, stop, lambda: {})

        asyncio.run(main())
        """
    )
    env = {**os.environ, "PYTHONTRACEMALLOC": "2"}
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, timeout=120, env=env)
    (line,) = [json.loads(x) for x in (tmp_path / "marks.jsonl").read_text().splitlines()]
    assert line["traced"] > 0
    assert (tmp_path / "polls-0.tracemalloc").stat().st_size > 0


def test_the_daemon_starts_no_hook_without_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)

    async def main() -> int:
        return len(memtrace_tasks(lambda: 0, asyncio.Event(), dict))

    assert asyncio.run(main()) == 0


async def test_a_malformed_value_is_logged_and_the_daemon_runs_without_the_hook(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(ENV, "no-marks-here")
    stop = asyncio.Event()
    assert memtrace_tasks(lambda: 0, stop, dict) == []
    assert any(ENV in record.getMessage() for record in caplog.records)


def test_sqlite_memory_counts_what_an_open_database_holds(tmp_path: Path) -> None:
    before = sqlite_memory()
    db = sqlite3.connect(tmp_path / "held.db")
    try:
        db.execute("CREATE TABLE t (v TEXT)")
        db.executemany("INSERT INTO t VALUES (?)", [("x" * 200,)] * 2000)
        db.commit()
        db.execute("SELECT count(*), max(v) FROM t").fetchone()
        assert sqlite_memory() > max(before, 0)
    finally:
        db.close()
