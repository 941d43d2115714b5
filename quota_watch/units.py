"""One home for how values, durations and times read: "12.3 GB", "7d", the Duration type."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

from quota_watch.sdk import parse_duration


def format_duration(value: timedelta) -> str:
    """The shortest of "7d", "6h", "15m" or "90s" that states `value` exactly."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]
"""The duration type of every config model: "90s", "10m", "1h30m", "7d" in and out."""


_BYTE_STEPS = (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3))
_COUNT_STEPS = (("G", 1e9), ("M", 1e6), ("k", 1e3))


def human(value: float | None, unit: str) -> str:
    """A short human form: 12.3 GB, 4.5 h, 98.2k."""
    if value is None or math.isnan(value):
        return "-"
    if unit == "bytes":
        for suffix, size in _BYTE_STEPS:
            if abs(value) >= size:
                return f"{value / size:.3g} {suffix}"
        return f"{value:.0f} B"
    if unit == "seconds":
        for suffix, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
            if abs(value) >= size:
                return f"{value / size:.3g} {suffix}"
        return f"{value:.3g} s"
    for suffix, size in _COUNT_STEPS:
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}" if value != int(value) else f"{value:g}"
