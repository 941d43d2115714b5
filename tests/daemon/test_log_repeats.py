"""Identical warnings are written once per interval, the next one with the count dropped."""

from __future__ import annotations

import logging

from quota_watch.daemon.logrepeats import RepeatFilter


def record(message: str, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord("quota_watch.x", level, __file__, 1, message, None, None)


def test_identical_errors_fold_into_one_line_per_interval() -> None:
    now = [0.0]
    repeats = RepeatFilter(interval=300, clock=lambda: now[0])
    assert repeats.filter(record("disk full"))
    passed = [repeats.filter(record("disk full")) for _ in range(2861)]
    assert not any(passed)
    assert repeats.filter(record("another problem"))  # a different message is not held back
    assert repeats.filter(record("disk full", logging.INFO))  # below WARNING: untouched
    now[0] = 301.0
    later = record("disk full")
    assert repeats.filter(later)
    assert later.getMessage() == "disk full (repeated 2861 more times in the last 301s)"
    assert not repeats.filter(record("disk full"))
