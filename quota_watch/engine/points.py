"""A series' samples packed in two arrays (time in µs since the epoch, value): what rules read.

The rules run after every poll over each series' whole lookback (4,320 samples at the default
1-minute interval and 3 days): a (datetime, float) tuple per sample would be built, held and
freed on each poll. `Points` keeps the samples packed and builds a tuple only when one is read
by index or iteration; cutting to a period or a lookback is a bisection and a copy of the
packed slice, and the fits read the arrays directly.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import overload

__all__ = ["Points", "from_micros", "to_micros"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def to_micros(moment: datetime) -> int:
    """`moment` (timezone-aware) as whole microseconds since the Unix epoch."""
    return (moment - _EPOCH) // _MICRO


def from_micros(micros: int) -> datetime:
    """The UTC moment `micros` microseconds after the Unix epoch."""
    return _EPOCH + timedelta(microseconds=micros)


class Points(Sequence[tuple[datetime, float]]):
    """(ts, value) samples sorted by time, packed; a read `points[i]` is a (datetime, float).

    Immutable once built (the arrays are not to be modified by callers); equal to any
    sequence of the same (ts, value) pairs.
    """

    __slots__ = ("micros", "values")

    def __init__(self, micros: array[int] | None = None, values: array[float] | None = None):
        self.micros: array[int] = array("q") if micros is None else micros
        self.values: array[float] = array("d") if values is None else values
        if len(self.micros) != len(self.values):
            raise ValueError("micros and values must have the same length")

    @classmethod
    def of(cls, pairs: Iterable[tuple[datetime, float]]) -> Points:
        """The points of (ts, value) pairs (any order; sorted by time, stably)."""
        listed = pairs if isinstance(pairs, Sequence) else list(pairs)
        micros = array("q", [to_micros(ts) for ts, _ in listed])
        values = array("d", [value for _, value in listed])
        if any(a > b for a, b in pairwise(micros)):
            order = sorted(range(len(micros)), key=micros.__getitem__)
            micros = array("q", [micros[i] for i in order])
            values = array("d", [values[i] for i in order])
        return cls(micros, values)

    def __len__(self) -> int:
        return len(self.micros)

    @overload
    def __getitem__(self, index: int) -> tuple[datetime, float]: ...

    @overload
    def __getitem__(self, index: slice) -> Points: ...

    def __getitem__(self, index: int | slice) -> tuple[datetime, float] | Points:
        if isinstance(index, slice):
            return Points(self.micros[index], self.values[index])
        return from_micros(self.micros[index]), self.values[index]

    def __iter__(self) -> Iterator[tuple[datetime, float]]:
        for micros, value in zip(self.micros, self.values, strict=True):
            yield from_micros(micros), value

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Points):
            return self.micros == other.micros and self.values == other.values
        if not isinstance(other, Sequence) or len(other) != len(self):
            return False
        return all(mine == theirs for mine, theirs in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # mutable arrays inside: not hashable

    def __repr__(self) -> str:
        return f"Points({list(self)!r})"

    def cut(self, since: int | None = None, until: int | None = None) -> Points:
        """The points with since <= µs < until (None: unbounded on that side)."""
        lo = 0 if since is None else bisect_left(self.micros, since)
        hi = len(self.micros) if until is None else bisect_left(self.micros, until)
        if lo == 0 and hi == len(self.micros):
            return self
        return Points(self.micros[lo:hi], self.values[lo:hi])

    def through(self, moment: int) -> Points:
        """The points not after `moment` (µs)."""
        hi = bisect_right(self.micros, moment)
        return self if hi == len(self.micros) else Points(self.micros[:hi], self.values[:hi])

    def shifted(self, micros: int) -> Points:
        """The same points moved `micros` later."""
        return Points(array("q", [m + micros for m in self.micros]), array("d", self.values))

    def seconds_from(self, origin: int, indexes: Sequence[int]) -> list[float]:
        """The times of the points at `indexes` as seconds after `origin` (µs); the same
        float as timedelta.total_seconds() of the difference."""
        micros = self.micros
        return [(micros[i] - origin) / 1e6 for i in indexes]

    def value_around(self, moment: int) -> float | None:
        """The series' value at `moment` (µs): linear between the points around it, None
        outside them."""
        micros, values = self.micros, self.values
        if not micros or moment < micros[0] or moment > micros[-1]:
            return None
        at = bisect_left(micros, moment)
        if at == 0:
            return values[0]
        # between the last point before `moment` and the first at/after it, as a scan of the
        # pairs from the oldest finds them (so a point exactly at `moment` is interpolated to)
        t0, t1 = micros[at - 1], micros[at]
        v0, v1 = values[at - 1], values[at]
        return v0 + (v1 - v0) * ((moment - t0) / (t1 - t0))
