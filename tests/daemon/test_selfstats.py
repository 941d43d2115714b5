"""The daemon's own figures match prometheus_client's ProcessCollector, name for name."""

from __future__ import annotations

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
    assert ours["process_cpu_seconds"] >= theirs["process_cpu_seconds"]
    assert ours["process_open_fds"] > 0
