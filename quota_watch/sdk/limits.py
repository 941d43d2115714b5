"""Limit vocabulary: units, measures, periods, scopes; quantity and duration parsing; LimitSpec."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)


class Unit(StrEnum):
    """Base unit of a limit's value; every value and cap is stored in it."""

    BYTES = "bytes"
    SECONDS = "seconds"
    COUNT = "count"


class Measure(StrEnum):
    """How a limit's value behaves over time."""

    CUMULATIVE = "cumulative"  # grows inside a period, resets at its end
    LEVEL = "level"  # an amount held now


class PeriodKind(StrEnum):
    """The window a limit is counted over."""

    DAILY = "daily"
    CALENDAR_MONTH = "calendar_month"
    BILLING_CYCLE = "billing_cycle"
    ROLLING = "rolling"
    NONE = "none"


class Scope(StrEnum):
    """Whether a cap applies to the whole account or to each resource in it."""

    ACCOUNT = "account"
    RESOURCE = "resource"


class Enforcement(StrEnum):
    """What the provider does when the cap is crossed."""

    HARD = "hard"  # requests fail or the service is suspended
    SOFT = "soft"  # a warning, throttling, or a grace period
    BILLED = "billed"  # overage is charged


_BYTE_FACTORS: dict[str, float] = {
    "b": 1,
    "kb": 1e3,
    "mb": 1e6,
    "gb": 1e9,
    "tb": 1e12,
    "pb": 1e15,
    "kib": 2.0**10,
    "mib": 2.0**20,
    "gib": 2.0**30,
    "tib": 2.0**40,
    "pib": 2.0**50,
}


_SECOND_FACTORS: dict[str, float] = {
    "us": 1e-6,
    "ms": 1e-3,
    "s": 1,
    "min": 60,
    "h": 3600,
    "d": 86400,
}


_COUNT_FACTORS: dict[str, float] = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}


_UNIT_FACTORS: dict[Unit, dict[str, float]] = {
    Unit.BYTES: _BYTE_FACTORS,
    Unit.SECONDS: _SECOND_FACTORS,
    Unit.COUNT: _COUNT_FACTORS,
}


_FIXED_DISPLAY_UNITS: dict[str, tuple[Unit, float]] = {
    **{name: (Unit.BYTES, _BYTE_FACTORS[name.lower()]) for name in ("B", "kB", "MB", "GB", "TB")},
    **{name: (Unit.BYTES, _BYTE_FACTORS[name.lower()]) for name in ("KiB", "MiB", "GiB", "TiB")},
    "ms": (Unit.SECONDS, 1e-3),
    "s": (Unit.SECONDS, 1.0),
    "minutes": (Unit.SECONDS, 60.0),
    "hours": (Unit.SECONDS, 3600.0),
    "days": (Unit.SECONDS, 86400.0),
    "core-hours": (Unit.SECONDS, 3600.0),
    "GB-s": (Unit.COUNT, 1.0),
    "GB-hours": (Unit.COUNT, 3600.0),
}
_DISPLAY_LABEL = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")


def display_factor(display: str, unit: Unit | str) -> float:
    """How many base units one `display` unit is ("minutes" of seconds: 60; "GiB": 2**30; a
    free label of a count such as "requests": 1); ValueError if it does not fit `unit`."""
    unit = Unit(unit)
    fixed = _FIXED_DISPLAY_UNITS.get(display)
    if fixed is not None:
        if fixed[0] is not unit:
            raise ValueError(f"display unit {display!r} is for {fixed[0].value}, not {unit.value}")
        return fixed[1]
    if unit is Unit.COUNT and _DISPLAY_LABEL.match(display):
        return 1.0  # a name for what is counted: "requests", "credits", "USD"
    known = ", ".join(n for n, (u, _) in _FIXED_DISPLAY_UNITS.items() if u is unit)
    extra = " or a word naming what is counted" if unit is Unit.COUNT else ""
    raise ValueError(f"unknown display unit {display!r} for {unit.value} (one of {known}{extra})")


_QUANTITY = re.compile(r"^\s*([0-9][0-9_]*(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*$")


def parse_quantity(text: str | int | float, unit: Unit | str) -> float:
    """Parse "500 MB", "1 GiB", "10 ms", "100k" or a plain number into the base unit.

    Decimal prefixes are powers of 10 and binary ones powers of 2 ("500 MB" is 5e8 bytes,
    "1 GiB" is 2**30). A suffix that does not belong to the unit is an error.
    """
    unit = Unit(unit)
    if isinstance(text, bool):
        raise ValueError("expected a number or a quantity string, got a boolean")
    if isinstance(text, int | float):
        value = float(text)
    elif not isinstance(text, str):
        raise ValueError(f"expected a number or a quantity string, got {type(text).__name__}")
    else:
        match = _QUANTITY.match(text)
        if match is None:
            raise ValueError(
                f"{text!r} is not a quantity (expected e.g. '500 MB', '1 GiB', '100k')"
            )
        number, suffix = match.groups()
        factors = {"": 1.0, **_UNIT_FACTORS[unit]}  # no suffix: already in the base unit
        key = suffix.lower()
        if key not in factors:
            allowed = ", ".join(s for s in factors if s) or "none"
            raise ValueError(
                f"{text!r}: unknown suffix {suffix!r} for a {unit.value} quantity "
                f"(allowed: {allowed})"
            )
        value = float(number.replace("_", "")) * factors[key]
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{text!r}: a quantity must be a finite number >= 0")
    return value


_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(ms|min|s|m|h|d|w)")


_DURATION_UNITS = {
    "ms": "milliseconds",
    "s": "seconds",
    "m": "minutes",
    "min": "minutes",
    "h": "hours",
    "d": "days",
    "w": "weeks",
}


def parse_duration(text: str | int | float | timedelta) -> timedelta:
    """Parse "10m", "1h30m", "90s", "7d", a number of seconds or a timedelta into a positive one."""
    if isinstance(text, bool):
        raise ValueError("expected a duration, got a boolean")
    try:
        if isinstance(text, timedelta):
            duration = text
        elif isinstance(text, int | float):
            if not math.isfinite(text):
                raise ValueError(f"{text!r}: a duration must be finite and > 0")
            duration = timedelta(seconds=text)
        elif isinstance(text, str):
            parts = _DURATION_PART.findall(text)
            rebuilt = "".join(n + u for n, u in parts)
            if not parts or rebuilt != re.sub(r"\s+", "", text):
                raise ValueError(
                    f"{text!r} is not a duration (expected e.g. '90s', '10m', '1h30m', '7d')"
                )
            # Summed as timedeltas, not float seconds, so long durations keep their milliseconds.
            duration = sum(
                (timedelta(**{_DURATION_UNITS[u]: float(n)}) for n, u in parts), timedelta()
            )
        else:
            raise ValueError(f"expected a duration string or seconds, got {type(text).__name__}")
    except OverflowError:
        raise ValueError(f"{text!r}: duration too long") from None
    if duration <= timedelta():
        raise ValueError(f"{text!r}: a duration must be > 0")
    return duration


def _duration_or_none(value: Any) -> Any:
    return None if value is None else parse_duration(value)


class PeriodSpec(BaseModel):
    """A limit's period: kind plus the parameters that kind needs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: PeriodKind = PeriodKind.NONE
    tz: str = "UTC"
    anchor_day: int | None = Field(default=None, ge=1, le=31)
    window: Annotated[timedelta | None, BeforeValidator(_duration_or_none)] = None

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        return {"kind": data} if isinstance(data, str) else data

    @field_validator("tz")
    @classmethod
    def _check_tz(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _check(self) -> PeriodSpec:
        if self.kind is PeriodKind.BILLING_CYCLE and self.anchor_day is None:
            raise ValueError("a billing_cycle period needs anchor_day (1-31)")
        if self.kind is not PeriodKind.BILLING_CYCLE and self.anchor_day is not None:
            raise ValueError("anchor_day applies only to billing_cycle periods")
        if self.kind is PeriodKind.ROLLING and self.window is None:
            raise ValueError("a rolling period needs window (e.g. '30d')")
        if self.kind is not PeriodKind.ROLLING and self.window is not None:
            raise ValueError("window applies only to rolling periods")
        return self


class LimitSpec(BaseModel):
    """One free-tier limit: what is counted, in which unit, over which period, against which cap."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    unit: Unit
    measure: Measure
    # validate_default: an omitted period must still be checked against the measure.
    period: PeriodSpec = Field(default=PeriodSpec(), validate_default=True)
    scope: Scope = Scope.ACCOUNT
    cap: float | None = None
    enforcement: Enforcement = Enforcement.HARD
    notes: str = ""
    # How people read the limit on the provider's pricing page ("minutes", "GiB", "ms",
    # "GB-s", "requests"); values stay stored in `unit`, only human views convert.
    display_unit: str | None = None

    # Field validators (rather than model ones) so each error carries its field's path and the
    # other fields are still validated and reported in the same pass.
    @field_validator("period")
    @classmethod
    def _check_period(cls, value: PeriodSpec, info: ValidationInfo) -> PeriodSpec:
        measure = info.data.get("measure")
        if measure is Measure.CUMULATIVE and value.kind is PeriodKind.NONE:
            raise ValueError("a cumulative limit needs a period other than 'none'")
        return value

    @field_validator("cap", mode="before")
    @classmethod
    def _parse_cap(cls, value: Any, info: ValidationInfo) -> Any:
        unit = info.data.get("unit")
        if value is None or unit is None:
            return None  # without a valid unit the cap cannot be read; `unit` reports why
        return parse_quantity(value, unit)

    @field_validator("display_unit")
    @classmethod
    def _check_display_unit(cls, value: str | None, info: ValidationInfo) -> str | None:
        unit = info.data.get("unit")
        if value is not None and unit is not None:
            display_factor(value, unit)
        return value

    def spec(self) -> LimitSpec:
        """The plain LimitSpec part, as the core's catalogue holds it: a limit declared in an
        account's options (with where to read it) without those extra fields."""
        return LimitSpec.model_validate(
            {name: getattr(self, name) for name in LimitSpec.model_fields}
        )


def anchored(spec: LimitSpec, anchor_day: int) -> LimitSpec:
    """`spec` counted over a billing cycle that starts on `anchor_day` (its time zone kept)."""
    period = PeriodSpec(kind=PeriodKind.BILLING_CYCLE, tz=spec.period.tz, anchor_day=anchor_day)
    return spec.model_copy(update={"period": period})


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open window [start, end) in UTC; None where the limit has no such bound."""

    start: datetime | None
    end: datetime | None

    def __contains__(self, moment: datetime) -> bool:
        after_start = self.start is None or moment >= self.start
        before_end = self.end is None or moment < self.end
        return after_start and before_end
