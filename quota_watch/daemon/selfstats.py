"""The daemon's own resource use (RSS, CPU, file descriptors), read from /proc as
prometheus_client's ProcessCollector reads it (without importing prometheus_client: ~1 MB)."""

from __future__ import annotations

import os
import resource
from functools import cache
from pathlib import Path

_PROC = Path("/proc")


@cache
def _clock() -> tuple[float, int, float]:
    """Clock ticks per second, page size, and boot time (0 where /proc/stat is unreadable)."""
    try:
        ticks = float(os.sysconf("SC_CLK_TCK"))
    except (ValueError, OSError):
        ticks = 100.0
    boot = 0.0
    try:
        with (_PROC / "stat").open("rb") as stat:
            for line in stat:
                if line.startswith(b"btime "):
                    boot = float(line.split()[1])
                    break
    except OSError:
        pass
    return ticks, resource.getpagesize(), boot


def process_stats() -> dict[str, float]:
    """This process's figures keyed by family name, e.g. process_resident_memory_bytes.

    Empty where /proc is not available (not Linux). Names are prometheus_client's
    ProcessCollector ones; quota_watch.prometheus.exposition decides which are exported.
    """
    ticks, pagesize, boot = _clock()
    if not boot:
        return {}
    me = _PROC / "self"
    stats: dict[str, float] = {}
    try:
        parts = (me / "stat").read_bytes().split(b")")[-1].split()
        stats["process_virtual_memory_bytes"] = float(parts[20])
        stats["process_resident_memory_bytes"] = float(parts[21]) * pagesize
        stats["process_start_time_seconds"] = float(parts[19]) / ticks + boot
        stats["process_cpu_seconds"] = (float(parts[11]) + float(parts[12])) / ticks
    except (OSError, IndexError, ValueError):
        pass
    try:
        max_fds = None
        with (me / "limits").open("rb") as limits:
            for line in limits:
                if line.startswith(b"Max open file"):
                    max_fds = float(line.split()[3])
                    break
        open_fds = float(sum(1 for _ in (me / "fd").iterdir()))
        if max_fds is not None:
            stats["process_open_fds"] = open_fds
            stats["process_max_fds"] = max_fds
    except (OSError, IndexError, ValueError):
        pass
    return stats
