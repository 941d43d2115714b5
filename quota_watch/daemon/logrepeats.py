"""Repeated identical warnings and errors logged once per interval, with a count."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

#: How long identical messages are folded into one line.
REPEAT_INTERVAL = 300.0
_MAX_KEYS = 1024  # distinct messages remembered; beyond it the memory starts afresh


@dataclass
class _Seen:
    first: float
    suppressed: int = 0


class RepeatFilter(logging.Filter):
    """Lets the first of identical WARNING+ records through, drops the rest for `interval`
    seconds, then lets the next one through saying how many were dropped.

    A full disk or a connection flood otherwise logs a line (and a traceback) per event: tens
    of MB a minute on a VM whose journal is small.
    """

    def __init__(
        self, interval: float = REPEAT_INTERVAL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.interval = interval
        self.clock = clock
        self._seen: dict[tuple[str, int, str], _Seen] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        """Whether `record` is written (a let-through repeat gets the count appended)."""
        if record.levelno < logging.WARNING:
            return True
        try:
            text = record.getMessage()
        except Exception:  # a malformed record: let logging report it as usual
            return True
        key = (record.name, record.levelno, text)
        now = self.clock()
        seen = self._seen.get(key)
        if seen is None or now - seen.first >= self.interval:
            if len(self._seen) >= _MAX_KEYS:
                self._seen.clear()
            self._seen[key] = _Seen(first=now)
            if seen is not None and seen.suppressed:
                record.msg = f"{text} (repeated {seen.suppressed} more times in the last " + (
                    f"{now - seen.first:.0f}s)"
                )
                record.args = None
            return True
        seen.suppressed += 1
        return False
