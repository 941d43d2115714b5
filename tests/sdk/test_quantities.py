"""Quantity and duration parsing: every suffix of every unit, round trips and rejections."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quota_watch.sdk import Unit, parse_duration, parse_quantity

# Spelled out here rather than imported, so the tests pin the documented meaning of each suffix.
FACTORS: dict[Unit, dict[str, float]] = {
    Unit.BYTES: {
        "B": 1,
        "kB": 1e3,
        "KB": 1e3,
        "MB": 1e6,
        "GB": 1e9,
        "TB": 1e12,
        "PB": 1e15,
        "KiB": 2**10,
        "MiB": 2**20,
        "GiB": 2**30,
        "TiB": 2**40,
        "PiB": 2**50,
    },
    Unit.SECONDS: {"us": 1e-6, "ms": 1e-3, "s": 1, "min": 60, "h": 3600, "d": 86400},
    Unit.COUNT: {"k": 1e3, "M": 1e6, "G": 1e9},
}
ALL_SUFFIXES = sorted({suffix.lower() for table in FACTORS.values() for suffix in table})

numbers = st.one_of(
    st.integers(min_value=0, max_value=10**15),
    st.floats(min_value=0, max_value=1e250, allow_nan=False, allow_infinity=False),
)
cases = st.sampled_from([(unit, suffix) for unit, table in FACTORS.items() for suffix in table])
spellings = st.sampled_from([str.lower, str.upper, lambda suffix: suffix])
separators = st.sampled_from(["", " ", "  "])


@given(cases, numbers, spellings, separators)
def test_every_suffix_scales_by_its_factor(
    case: tuple[Unit, str], number: float, spell: object, separator: str
) -> None:
    """parse_quantity(f"{n} {suffix}") == n * factor, whatever the suffix's case and spacing."""
    unit, suffix = case
    assert callable(spell)
    text = f"{number}{separator}{spell(suffix)}"
    assert parse_quantity(text, unit) == float(number) * FACTORS[unit][suffix]
    assert parse_quantity(f" {text} ", unit.value) == float(number) * FACTORS[unit][suffix]


@given(st.sampled_from(list(Unit)), numbers)
def test_plain_numbers_are_base_units(unit: Unit, number: float) -> None:
    """A bare number, as a number or a string, is already in the base unit."""
    assert parse_quantity(number, unit) == float(number)
    assert parse_quantity(str(number), unit) == float(number)


@given(st.sampled_from(list(Unit)), st.sampled_from(ALL_SUFFIXES), st.integers(0, 10**6))
def test_suffixes_of_other_units_rejected(unit: Unit, suffix: str, number: int) -> None:
    """A suffix is accepted exactly when it belongs to the unit."""
    known = {s.lower() for s in FACTORS[unit]}
    text = f"{number} {suffix}"
    if suffix in known:
        assert parse_quantity(text, unit) >= 0
    else:
        with pytest.raises(ValueError, match="unknown suffix"):
            parse_quantity(text, unit)


@pytest.mark.parametrize(
    ("text", "unit", "expected"),
    [
        ("500 MB", Unit.BYTES, 5e8),
        ("1 GiB", Unit.BYTES, 2**30),
        ("10 TB", Unit.BYTES, 1e13),
        ("1.5 GiB", Unit.BYTES, 1.5 * 2**30),
        ("200GB", Unit.BYTES, 2e11),
        ("100k", Unit.COUNT, 1e5),
        ("1M", Unit.COUNT, 1e6),
        ("100_000", Unit.COUNT, 1e5),
        ("1e6", Unit.COUNT, 1e6),
        ("10 ms", Unit.SECONDS, 0.01),
        ("90 min", Unit.SECONDS, 5400),
        ("0", Unit.BYTES, 0),
    ],
)
def test_quantity_examples(text: str, unit: Unit, expected: float) -> None:
    """Documented examples."""
    assert parse_quantity(text, unit) == expected


@pytest.mark.parametrize(
    ("value", "unit", "message"),
    [
        ("-5 GB", Unit.BYTES, "not a quantity"),
        (-5, Unit.BYTES, ">= 0"),
        (-0.5, Unit.SECONDS, ">= 0"),
        (math.inf, Unit.COUNT, "finite"),
        (math.nan, Unit.COUNT, "finite"),
        ("1e400", Unit.COUNT, "finite"),
        ("5 parsecs", Unit.BYTES, "unknown suffix 'parsecs'"),
        ("5 GB", Unit.COUNT, "unknown suffix 'GB'"),
        ("10 m", Unit.SECONDS, "unknown suffix 'm'"),
        ("10 ms", Unit.BYTES, "unknown suffix"),
        ("", Unit.BYTES, "not a quantity"),
        ("GB", Unit.BYTES, "not a quantity"),
        ("1 2 GB", Unit.BYTES, "not a quantity"),
        ("1,5 GB", Unit.BYTES, "not a quantity"),
        (True, Unit.COUNT, "boolean"),
        ([1], Unit.COUNT, "got list"),
        (None, Unit.COUNT, "got NoneType"),
    ],
)
def test_quantity_rejections(value: object, unit: Unit, message: str) -> None:
    """Negative, non-finite, malformed and wrong-unit quantities are errors."""
    with pytest.raises(ValueError, match=message):
        parse_quantity(value, unit)  # type: ignore[arg-type]


def test_unknown_unit_rejected() -> None:
    """The unit itself must be one of bytes, seconds, count."""
    with pytest.raises(ValueError):
        parse_quantity("5", "bits")


# --- durations ----------------------------------------------------------------------------

DURATION_UNITS = [("w", 604800_000), ("d", 86400_000), ("h", 3600_000), ("m", 60_000)]
DURATION_UNITS += [("s", 1000), ("ms", 1)]


def format_duration(duration: timedelta, spaced: bool) -> str:
    """Spell a whole-millisecond duration as "1w2d3h4m5s6ms" (zero components left out)."""
    remaining = duration // timedelta(milliseconds=1)
    parts = []
    for suffix, millis in DURATION_UNITS:
        count, remaining = divmod(remaining, millis)
        if count:
            parts.append(f"{count}{suffix}")
    return (" " if spaced else "").join(parts)


durations = st.integers(min_value=1, max_value=1000 * 604800_000).map(
    lambda millis: timedelta(milliseconds=millis)
)


@given(durations, st.booleans())
def test_duration_round_trip(duration: timedelta, spaced: bool) -> None:
    """Formatting a duration and parsing it back gives the same duration."""
    assert parse_duration(format_duration(duration, spaced)) == duration


@given(
    st.lists(st.sampled_from(DURATION_UNITS), min_size=1, max_size=6),
    st.lists(st.integers(0, 10_000), min_size=6, max_size=6),
)
def test_duration_components_add_up(units: list[tuple[str, int]], counts: list[int]) -> None:
    """Components in any order and repetition add up."""
    total = sum(count * millis for count, (_, millis) in zip(counts, units, strict=False))
    text = "".join(f"{count}{suffix}" for count, (suffix, _) in zip(counts, units, strict=False))
    if total == 0:
        with pytest.raises(ValueError, match="> 0"):
            parse_duration(text)
    else:
        assert parse_duration(text) == timedelta(milliseconds=total)


@given(st.floats(min_value=1e-3, max_value=1e9, allow_nan=False))
def test_duration_numbers_are_seconds(seconds: float) -> None:
    """A number is a count of seconds; a timedelta passes through."""
    assert parse_duration(seconds) == timedelta(seconds=seconds)
    assert parse_duration(timedelta(seconds=seconds)) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10m", timedelta(minutes=10)),
        ("10min", timedelta(minutes=10)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30min", timedelta(hours=1, minutes=30)),
        ("90s", timedelta(seconds=90)),
        ("1.5h", timedelta(minutes=90)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(days=14)),
        ("250ms", timedelta(milliseconds=250)),
        (" 5m ", timedelta(minutes=5)),
        (90, timedelta(seconds=90)),
    ],
)
def test_duration_examples(text: str | int, expected: timedelta) -> None:
    """Documented examples."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "not a duration"),
        ("10", "not a duration"),
        ("10x", "not a duration"),
        ("m10", "not a duration"),
        ("-5m", "not a duration"),
        ("1h30", "not a duration"),
        ("10M", "not a duration"),
        ("0s", "> 0"),
        (0, "> 0"),
        (-1, "> 0"),
        (math.inf, "> 0"),
        (timedelta(0), "> 0"),
        ("99999999999999d", "too long"),
        (True, "boolean"),
        (["1h"], "got list"),
    ],
)
def test_duration_rejections(value: object, message: str) -> None:
    """Malformed, non-positive and absurd durations are errors (ValueError, for pydantic)."""
    with pytest.raises(ValueError, match=message):
        parse_duration(value)  # type: ignore[arg-type]
