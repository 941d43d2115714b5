"""Bench hook, off unless QUOTA_WATCH_MEMTRACE is set: the daemon's memory at poll counts."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import json
import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quota_watch.daemon.selfstats import process_stats

__all__ = ["ENV", "MemTrace", "memtrace_tasks", "sqlite_memory"]

log = logging.getLogger("quota_watch.daemon")

#: "<directory>:<polls>,<polls>,..." e.g. "/tmp/trace:1000,5000,10000,15000"
ENV = "QUOTA_WATCH_MEMTRACE"


def sqlite_memory() -> int:
    """Bytes SQLite's allocator holds in this process (page caches, schemas, statements):
    memory outside Python's heap that tracemalloc does not see; -1 if not found."""
    used = _sqlite_memory_used()
    return -1 if used is None else int(used())


@functools.cache
def _sqlite_memory_used() -> Callable[[], int] | None:
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("sqlite3")  # the library _sqlite3 is linked to
    try:
        used = ctypes.CDLL(name).sqlite3_memory_used if name else None
    except (OSError, AttributeError):
        return None
    if used is not None:
        used.restype = ctypes.c_int64
    return used


@dataclass(frozen=True)
class MemTrace:
    """At each mark (polls finished since the hook started) a line of figures goes to
    `marks.jsonl`: RSS, Python's allocated blocks, SQLite's memory and the daemon's own
    `facts`; when tracemalloc traces (PYTHONTRACEMALLOC=<frames>) also the traced bytes and a
    snapshot, `polls-<mark>.tracemalloc`, for `tracemalloc.Snapshot.load`."""

    directory: Path
    marks: tuple[int, ...]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> MemTrace | None:
        """The hook that ENV asks for, or None when it is not set; ValueError if malformed."""
        value = environ.get(ENV)
        if not value:
            return None
        directory, _, counts = value.rpartition(":")
        try:
            marks = tuple(sorted({int(c) for c in counts.split(",") if c.strip()}))
        except ValueError:
            marks = ()
        if not directory or not marks or marks[0] < 0:
            raise ValueError(f"{ENV} must be <directory>:<polls>[,<polls>...], not {value!r}")
        return cls(Path(directory), marks)

    async def run(
        self,
        polls: Callable[[], int],
        stop: asyncio.Event,
        facts: Callable[[], Mapping[str, int]],
        every: float = 1.0,
    ) -> None:
        """Write each mark's figures once that many polls have finished, until the last mark
        or `stop`."""
        self.directory.mkdir(parents=True, exist_ok=True)
        start = polls()
        log.warning("%s: memory figures after %s polls", ENV, self.marks)
        pending = list(self.marks)
        while pending and not stop.is_set():
            done = polls() - start
            if done >= pending[0]:
                self._write(pending.pop(0), done, facts())
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)

    def _write(self, mark: int, done: int, facts: Mapping[str, int]) -> None:
        # Blocks the event loop for up to a few seconds (a full collection, a snapshot): a
        # bench's daemon only.
        gc.collect()
        line: dict[str, Any] = {
            "mark": mark,
            "polls": done,
            "rss": int(process_stats().get("process_resident_memory_bytes", 0)),
            "blocks": sys.getallocatedblocks(),
            "sqlite": sqlite_memory(),
            **facts,
        }
        if os.environ.get("PYTHONTRACEMALLOC") or "tracemalloc" in sys._xoptions:
            self._snapshot(mark, line)
        with (self.directory / "marks.jsonl").open("a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")

    def _snapshot(self, mark: int, line: dict[str, Any]) -> None:
        import tracemalloc  # only when tracing: the hook itself should weigh nothing

        if tracemalloc.is_tracing():
            tracemalloc.take_snapshot().dump(str(self.directory / f"polls-{mark}.tracemalloc"))
            line["traced"] = tracemalloc.get_traced_memory()[0]
            line["tracemalloc_overhead"] = tracemalloc.get_tracemalloc_memory()


def memtrace_tasks(
    polls: Callable[[], int], stop: asyncio.Event, facts: Callable[[], Mapping[str, int]]
) -> list[asyncio.Task[None]]:
    """The hook running as a task when ENV asks for it; none otherwise (the default)."""
    try:
        trace = MemTrace.from_env()
    except ValueError as exc:  # a bench's typo: say so, and run the daemon as usual
        log.error("%s", exc)
        return []
    if trace is None:
        return []
    return [asyncio.create_task(trace.run(polls, stop, facts))]
