"""Memory tuning for the long-running daemon: fewer malloc arenas, a fixed mmap threshold,
free heap pages given back after the store's maintenance, a frozen start-up heap."""

from __future__ import annotations

import ctypes
import gc
import os
import sys
from collections.abc import Callable

__all__ = [
    "ARENAS",
    "MMAP_THRESHOLD",
    "fix_mmap_threshold",
    "freeze_heap",
    "limit_malloc_arenas",
    "trim_malloc",
]

ARENAS = 2
MMAP_THRESHOLD = 2**20
# mallopt's parameter numbers, from glibc's malloc.h
_M_ARENA_MAX = -8
_M_MMAP_THRESHOLD = -3


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas at `arenas`, unless MALLOC_ARENA_MAX is set; True if done.

    glibc gives each thread that allocates its own arena, up to 8 per core, and memory freed
    in one is not reused by the others: the store's connection threads and the executor's
    each keep a partly empty heap. Call it before those threads start. No-op off glibc.
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    mallopt = _glibc_function("mallopt")
    return mallopt is not None and bool(mallopt(_M_ARENA_MAX, arenas))


def fix_mmap_threshold(size: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold at `size` bytes, unless MALLOC_MMAP_THRESHOLD_ is set; True
    if done. No-op off glibc.

    glibc raises the threshold to the size of each mapped block freed (up to 32 MiB), so after
    one large temporary block, blocks of that size come from the heap instead and stay there
    as holes between live chunks: the daemon's RSS moved by up to 2 MB from one rollup to the
    next (a rollup every minute, 900 polls: 82.2-83.6 MB). Fixed (which fixes the trim
    threshold too) it held at 82.4-82.5 MB. 1 MiB rather than glibc's starting 128 KiB: a
    /metrics text scrape at 50,000 series then costs 37-41 ms of CPU instead of 44-46 (34 with
    the dynamic threshold), as fewer of its blocks are fresh mappings.
    """
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    mallopt = _glibc_function("mallopt")
    return mallopt is not None and bool(mallopt(_M_MMAP_THRESHOLD, size))


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
    trim = _glibc_function("malloc_trim")
    return trim is not None and bool(trim(0))


def _glibc_function(name: str) -> Callable[..., int] | None:
    """glibc's function `name`, or None off glibc (musl's mallopt, for one, does nothing)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018  (glibc only)
        found: Callable[..., int] = getattr(libc, name)
    except (OSError, AttributeError):
        return None
    return found
