"""Small helpers both store paths share; standard library only (the report imports them)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TypeVar

__all__ = [
    "BUSY_TIMEOUT_MS",
    "DAY",
    "HOUR",
    "IN_CHUNK",
    "MAX_ERROR_CHARS",
    "check_finite",
    "chunks",
    "floor_day",
    "floor_hour",
    "require_aware",
    "truncate",
]

BUSY_TIMEOUT_MS = 5000
IN_CHUNK = 500  # ids per IN (...) list: far below either driver's bound-parameter limit
MAX_ERROR_CHARS = 4000  # a run's error text is for people; a drifted payload can be huge
HOUR = "hour"
DAY = "day"

_T = TypeVar("_T")


def require_aware(name: str, value: datetime | None) -> None:
    """ValueError unless `value` is a timezone-aware datetime (or None)."""
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {value.isoformat()}")


def floor_hour(moment: datetime) -> datetime:
    """The start of `moment`'s UTC hour."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def floor_day(moment: datetime) -> datetime:
    """The start of `moment`'s UTC day."""
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def truncate(message: str | None) -> str | None:
    """`message` cut to the length the store keeps of error texts."""
    if message is None or len(message) <= MAX_ERROR_CHARS:
        return message
    return message[: MAX_ERROR_CHARS - 1] + "…"


def chunks(items: Sequence[_T], size: int = IN_CHUNK) -> Iterator[Sequence[_T]]:
    """`items` in slices of at most `size`, for IN (...) lists."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def check_finite(what: str, name: str, value: float | None) -> None:
    """ValueError if `value` is NaN or infinite (the backends would store it differently)."""
    if value is not None and not math.isfinite(value):
        raise ValueError(f"{what}: {name} must be finite, got {value!r}")
