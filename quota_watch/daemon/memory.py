"""glibc malloc tuning for the long-running daemon: fewer per-thread heaps (arenas)."""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["ARENAS", "limit_malloc_arenas"]

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
