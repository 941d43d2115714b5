"""Period boundaries of limits (daily, calendar month, billing cycle, rolling): pure functions.

Every boundary is a local midnight in the period's time zone, converted to UTC. A local
midnight that falls in a DST gap (zones that jump at 00:00, or Pacific/Apia, which skipped
2011-12-30 entirely) maps to the first valid instant after the gap, so a skipped day is a
zero-length period that no instant belongs to; an ambiguous local midnight maps to its first
occurrence. Periods are half-open, [start, end), and always in UTC.

Where the clock falls back across midnight (America/Goose_Bay, 00:01 -> 23:01 until 2010), the
repeated minutes after the first midnight belong to the new day, even though the wall clock
shows the old date again: periods always tile time without overlaps or holes.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from quota_watch.sdk import Period, PeriodKind, PeriodSpec

__all__ = ["current_period", "next_reset", "previous_period", "stated_period"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TICK = timedelta(microseconds=1)  # datetime's resolution: the instant just before another

Boundary = Callable[[int], datetime]


def _as_utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got naive {at.isoformat()}")
    return at.astimezone(UTC)


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def _local_start(day: date, zone: ZoneInfo) -> datetime:
    """The first instant (UTC) whose wall-clock time in `zone` is at or after `day` 00:00."""
    midnight = datetime.combine(day, time())
    valid = [
        instant
        for fold in (0, 1)
        if _wall(instant := midnight.replace(tzinfo=zone, fold=fold).astimezone(UTC), zone)
        == midnight
    ]
    if valid:
        return min(valid)  # ambiguous: the first occurrence
    # Midnight is in a gap. PEP 495 maps it with the offset after the transition (fold=1, an
    # instant before the gap) and before it (fold=0, at or after the gap's end); the transition
    # is between the two, at a whole second, so bisect on seconds for the first instant whose
    # wall clock has reached midnight.
    candidates = sorted(midnight.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1))
    low = int((candidates[0] - _EPOCH).total_seconds())
    high = int((candidates[1] - _EPOCH).total_seconds())
    while high - low > 1:
        middle = (low + high) // 2
        if _wall(_EPOCH + timedelta(seconds=middle), zone) >= midnight:
            high = middle
        else:
            low = middle
    return _EPOCH + timedelta(seconds=high)


def _bracket(boundary: Boundary, index: int, at: datetime) -> Period:
    """The [boundary(k), boundary(k + 1)) holding `at`, searching from the guess k = index."""
    start = boundary(index)
    while start > at:
        index -= 1
        start = boundary(index)
    end = boundary(index + 1)
    # Several steps only past zero-length periods (a skipped day) or wall clocks that moved
    # back across midnight.
    while end <= at:
        index += 1
        start, end = end, boundary(index + 1)
    return Period(start, end)


def _month(index: int) -> tuple[int, int]:
    year, month0 = divmod(index, 12)
    return year, month0 + 1


def _calendar(spec: PeriodSpec, at: datetime) -> Period:
    zone = ZoneInfo(spec.tz)
    local = at.astimezone(zone).date()
    if spec.kind is PeriodKind.DAILY:

        def day_start(ordinal: int) -> datetime:
            return _local_start(date.fromordinal(ordinal), zone)

        return _bracket(day_start, local.toordinal(), at)
    if spec.kind is PeriodKind.CALENDAR_MONTH:

        def month_start(index: int) -> datetime:
            year, month = _month(index)
            return _local_start(date(year, month, 1), zone)

        return _bracket(month_start, local.year * 12 + local.month - 1, at)
    if spec.anchor_day is None:  # PeriodSpec validation makes this unreachable
        raise ValueError("a billing_cycle period needs anchor_day")
    anchor = spec.anchor_day

    def cycle_start(index: int) -> datetime:
        year, month = _month(index)
        day = min(anchor, calendar.monthrange(year, month)[1])
        return _local_start(date(year, month, day), zone)

    return _bracket(cycle_start, local.year * 12 + local.month - 1, at)


# The latest calendar period computed per (kind, tz, anchor_day): every poll of every account
# asks for the period holding `now`, and since periods tile time without overlaps the one
# that held the previous poll's moment is the answer while it still holds it. One entry per
# distinct period kind configured.
_LATEST: dict[tuple[PeriodKind, str, int | None], Period] = {}


def _holding(spec: PeriodSpec, at: datetime) -> Period:
    """The calendar period holding `at` (UTC): _calendar, remembered per kind of period."""
    key = (spec.kind, spec.tz, spec.anchor_day)
    latest = _LATEST.get(key)
    if (
        latest is not None
        and latest.start is not None
        and latest.end is not None
        and (latest.start <= at < latest.end)
    ):
        return latest
    found = _LATEST[key] = _calendar(spec, at)
    return found


def _window(spec: PeriodSpec) -> timedelta:
    if spec.window is None:  # PeriodSpec validation makes this unreachable
        raise ValueError("a rolling period needs window")
    return spec.window


def current_period(spec: PeriodSpec, at: datetime) -> Period:
    """The period containing `at` (aware in, UTC out): [start, end), or the window ending at `at`.

    Rolling periods are [at - window, at); periods of kind none are Period(None, None).
    """
    at = _as_utc(at)
    if spec.kind is PeriodKind.NONE:
        return Period(None, None)
    if spec.kind is PeriodKind.ROLLING:
        return Period(at - _window(spec), at)
    return _holding(spec, at)


def next_reset(spec: PeriodSpec, at: datetime) -> datetime | None:
    """When the period containing `at` resets (its end, UTC); None for rolling and none periods."""
    at = _as_utc(at)
    if spec.kind in (PeriodKind.NONE, PeriodKind.ROLLING):
        return None
    return _calendar(spec, at).end


def previous_period(spec: PeriodSpec, at: datetime) -> Period:
    """The period just before the one containing `at` (for rolling: the window before it)."""
    at = _as_utc(at)
    if spec.kind is PeriodKind.NONE:
        return Period(None, None)
    if spec.kind is PeriodKind.ROLLING:
        window = _window(spec)
        return Period(at - 2 * window, at - window)
    start = _calendar(spec, at).start
    assert start is not None  # calendar periods are always bounded
    # Periods are contiguous, so the one holding the previous instant ends at `start`, even
    # where a zero-length period (a skipped day) lies in between.
    return _calendar(spec, start - _TICK)


_MONTHLY = frozenset({PeriodKind.CALENDAR_MONTH, PeriodKind.BILLING_CYCLE})


def stated_period(
    spec: PeriodSpec,
    computed: Period,
    start: datetime | None,
    end: datetime | None,
    zone: str | None = None,
) -> Period:
    """The period a reading counted: the bounds its provider stated, else `computed`.

    A stated end is taken as it is. A stated start alone, on a monthly limit, that is not
    where the computed period starts gives the cycle anchored on the start's local day (in
    `zone`, else the spec's): a 17th-to-17th cycle then ends on the 17th, not at the end of
    the computed calendar period.
    """
    if start is None and end is None:
        return computed
    if end is not None:
        end = _as_utc(end)
        if start is None:
            start = computed.start if computed.start is not None and computed.start < end else None
        return Period(None if start is None else _as_utc(start), end)
    assert start is not None
    start = _as_utc(start)
    if start == computed.start or spec.kind not in _MONTHLY:
        return Period(start, computed.end)
    tz = zone or spec.tz
    cycle = PeriodSpec(
        kind=PeriodKind.BILLING_CYCLE, anchor_day=start.astimezone(ZoneInfo(tz)).day, tz=tz
    )
    return Period(start, _calendar(cycle, start).end)
