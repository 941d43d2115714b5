"""One home for how values, durations and times read: "12.3 GB", "2,000 minutes", "7d",
"in 4h", the Duration type. Every human view (report, plan, history, messages, the status
page, `collectors list`) formats through here."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, PlainSerializer

from quota_watch.sdk import display_factor, parse_duration


def format_duration(value: timedelta) -> str:
    """The shortest of "7d", "6h", "15m" or "90s" that states `value` exactly."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


MAX_DURATION = timedelta(days=3660)
"""The longest duration any setting takes (ten years): datetimes and the scheduler stay in
range when it is added to now (99999999d would overflow at run time, not at load)."""
MIN_INTERVAL = timedelta(seconds=1)
"""The shortest interval of anything repeated (polls, maintenance): 1 ms burns the CPU."""


def _at_most_max(value: timedelta) -> timedelta:
    if value > MAX_DURATION:
        raise ValueError(f"{format_duration(value)}: longer than the maximum of 3660d (10 years)")
    return value


def _interval(value: timedelta) -> timedelta:
    if value < MIN_INTERVAL:
        raise ValueError(f"{value.total_seconds():g}s: an interval must be at least 1s")
    return value


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    AfterValidator(_at_most_max),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]
"""The duration type of every config model: "90s", "10m", "1h30m", "7d" in and out."""

Interval = Annotated[Duration, AfterValidator(_interval)]
"""A Duration that repeats something: at least MIN_INTERVAL."""


_BYTE_STEPS = (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3))
_COUNT_STEPS = (("G", 1e9), ("M", 1e6), ("k", 1e3))


def human(value: float | None, unit: str, display: str | None = None) -> str:
    """A short human form: 12.3 GB, 4.5 h, 98.2k; in the limit's `display` unit when it has
    one, as its provider writes it: "1,391 minutes", "500 MiB", "6.8 ms", "13k GB-s"."""
    if value is None or math.isnan(value):
        return "-"
    if display is not None:
        return _in_display_unit(value, unit, display)
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
    return _count(value)


def _count(value: float) -> str:
    for suffix, size in _COUNT_STEPS:
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}" if value != int(value) else f"{value:g}"


_BINARY_STEPS = (("TiB", 2.0**40), ("GiB", 2.0**30), ("MiB", 2.0**20), ("KiB", 2.0**10))


def _amount(number: float) -> str:
    """A figure as pricing pages write it: "2,000", "120", "6.8", "0.25"."""
    if abs(number) >= 100:
        return f"{number:,.0f}"
    return f"{number:.3g}"


def _in_display_unit(value: float, unit: str, display: str) -> str:
    factor = display_factor(display, unit)
    if unit == "bytes":
        # The display unit names the family (GiB: powers of 2); the size still scales.
        if display.endswith("iB"):
            for suffix, size in _BINARY_STEPS:
                if abs(value) >= size:
                    return f"{value / size:.3g} {suffix}"
            return f"{value:.0f} B"
        return human(value, unit)
    if unit == "count" and factor == 1.0:
        return f"{_count(value)} {display}"
    return f"{_amount(value / factor)} {display}"


def used_of_cap(
    value: float | None,
    cap: float | None,
    unit: str,
    display: str | None = None,
    *,
    joiner: str = " / ",
) -> str:
    """ "value / cap" (or with another `joiner`, " of ") in one unit, the unit written once
    when both share it: "1,391 / 2,000 minutes", "84k / 100k", "660 MB / 1 GB"; "-" for a
    missing side."""
    used, limit = human(value, unit, display), human(cap, unit, display)
    return f"{without_display_unit(used, limit, display)}{joiner}{limit}"


def without_display_unit(text: str, beside: str, display: str | None) -> str:
    """`text` without its trailing display unit when `beside` (shown next to it) carries the
    same one: a table's USED column beside its CAP column."""
    suffix = f" {display}"
    if display is not None and text.endswith(suffix) and beside.endswith(suffix):
        return text[: -len(suffix)]
    return text


def percent(ratio: float | None, digits: int = 0) -> str:
    """A ratio as a percentage with `digits` decimals ("42%", "41.7%"); "-" without one."""
    return "-" if ratio is None or math.isnan(ratio) else f"{ratio:.{digits}%}"


def format_days(days: float | None) -> str:
    """A span given in days: "3.5 d", under a day in hours ("4.2 h"); "-" without one."""
    if days is None:
        return "-"
    if days < 1:
        return f"{days * 24:.1f} h"
    return f"{days:.1f} d"


def utc_minute(moment: datetime | None) -> str:
    """A moment to the minute in UTC: "2026-12-03 04:00 UTC"; "-" without one."""
    return "-" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso_z(moment: datetime) -> str:
    """ISO 8601 with "Z" for a UTC offset: "2026-12-03T04:00:00Z"."""
    return moment.isoformat().replace("+00:00", "Z")


_SPAN_UNITS = (("d", 86400.0), ("h", 3600.0), ("m", 60.0))


def rounded_span(delta: timedelta, *, tenths_below: float = 0.0) -> str:
    """The length of `delta` in the largest unit it reaches, rounded: "4h", "2d", "45s"; with
    one decimal while under `tenths_below` of that unit ("1.5h")."""
    span = abs(delta.total_seconds())
    for suffix, size in _SPAN_UNITS:
        if span >= size:
            digits = 1 if span < tenths_below * size else 0
            return f"{span / size:.{digits}f}{suffix}"
    return f"{span:.0f}s"


def exact_span(delta: timedelta) -> str:
    """The length of `delta` in its two largest units, whole: "1d 3h", "4h", "2m 5s"."""
    seconds = int(abs(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    for big, big_unit, small, small_unit in (
        (days, "d", hours, "h"),
        (hours, "h", minutes, "m"),
        (minutes, "m", secs, "s"),
    ):
        if big:
            return f"{big}{big_unit} {small}{small_unit}" if small else f"{big}{big_unit}"
    return f"{secs}s"


def relative(
    moment: datetime | None,
    now: datetime,
    *,
    span: Callable[[timedelta], str] = rounded_span,
    now_below: timedelta | None = None,
) -> str:
    """`moment` seen from `now`: "in 4h" or "4h ago" (the length written by `span`); "now"
    when closer than `now_below`; "-" without a moment."""
    if moment is None:
        return "-"
    delta = moment - now
    if now_below is not None and abs(delta) < now_below:
        return "now"
    text = span(delta)
    return f"in {text}" if delta >= timedelta() else f"{text} ago"
