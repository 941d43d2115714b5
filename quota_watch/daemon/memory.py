"""Memory tuning for the long-running daemon: fewer malloc arenas, free heap pages given
back after the store's maintenance, a frozen start-up heap."""

from __future__ import annotations

import ctypes
import gc
import os
import sys

__all__ = ["ARENAS", "freeze_heap", "limit_malloc_arenas", "trim_malloc"]

ARENAS = 2
_M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas at `arenas`, unless MALLOC_ARENA_MAX is set; True if done.

    glibc gives each thread that allocates its own arena, up to 8 per core, and memory freed
    in one is not reused by the others: the store's connection threads and the executor's
    each keep a partly empty heap. Call it before those threads start. No-op off glibc.
    """
    if "MALLOC_ARENA_MAX" in os.environ or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018  (glibc only: musl's mallopt does nothing)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_ARENA_MAX, arenas))


def freeze_heap() -> int:
    """Collect, then exempt every surviving object from later cyclic collections; returns
    how many objects are exempt.

    What the daemon holds once started (modules, classes, validators, runtimes, the store's
    and the scheduler's state) lives until exit or the next reload, yet every full collection
    walked all of it again: at 1,000 accounts polled at cap 100, one full collection a cycle
    took 0.15-0.37 s of CPU, 0.05-0.11 s with the start-up heap frozen (bench_poll_cycle.py).
    Objects frozen earlier are unfrozen first, so what a reload replaced is collected instead
    of kept. Refcounting still frees frozen objects; only a frozen reference cycle that
    becomes garbage waits for the next call.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def trim_malloc() -> bool:
    """Give the free pages inside glibc's heaps back to the system (malloc_trim(0)); True if
    any were. No-op off glibc.

    SQLite's rollups and pruning run on the store's thread and allocate megabytes there for a
    moment; glibc keeps what they freed inside its heaps (it returns only a heap's free top),
    so the daemon's RSS stepped up at its first rollup and stayed there. A millisecond's call
    after each maintenance job (every 15 minutes by default) releases it.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018  (glibc only)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return False
    return bool(trim(0))
