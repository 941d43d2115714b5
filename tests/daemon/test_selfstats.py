"""The daemon's own figures match prometheus_client's ProcessCollector, name for name."""

from __future__ import annotations

import os
import sys

import pytest
from prometheus_client import ProcessCollector

from quota_watch.daemon.selfstats import process_stats


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_process_stats_read_what_prometheus_client_reads() -> None:
    theirs = {f.name: f.samples[0].value for f in ProcessCollector(registry=None).collect()}
    ours = process_stats()
    assert set(ours) == set(theirs)
    for name in ("process_start_time_seconds", "process_max_fds"):
        assert ours[name] == theirs[name]
    assert ours["process_resident_memory_bytes"] == pytest.approx(
        theirs["process_resident_memory_bytes"], rel=0.2
    )
    # Read after theirs, so no less; they sum utime and stime as floats, we as clock ticks, so
    # allow one tick of rounding (50.18 vs 50.18000000000001 was seen).
    tick = 1 / os.sysconf("SC_CLK_TCK")
    assert ours["process_cpu_seconds"] >= theirs["process_cpu_seconds"] - tick
    assert ours["process_open_fds"] > 0
