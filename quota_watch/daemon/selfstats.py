"""The daemon's own resource use (RSS, CPU, file descriptors), read by prometheus_client."""

from __future__ import annotations

from functools import cache

from prometheus_client import ProcessCollector


@cache
def _collector() -> ProcessCollector:
    # Built once: it reads the boot time and the clock-tick size when constructed.
    return ProcessCollector(registry=None)


def process_stats() -> dict[str, float]:
    """This process's figures keyed by family name, e.g. process_resident_memory_bytes.

    Empty where /proc is not available (not Linux). Names are prometheus_client's
    ProcessCollector ones; quota_watch.prometheus.exposition decides which are exported.
    """
    stats: dict[str, float] = {}
    for family in _collector().collect():
        if family.samples:
            stats[family.name] = float(family.samples[0].value)
    return stats
