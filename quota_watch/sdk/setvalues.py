"""Values set by hand (`quota-watch set`): how they travel to a collector in its account state.

The CLI validates a `SetValue` with the collector's `accept_set()`, adds it to the account's
state under `SET_VALUES_KEY` (replacing the one with the same limit and resource) and polls
once; the collector reads them back with `set_values()` on every poll. The poller re-reads the
state of a `settable` collector before each poll, so a running daemon sees them too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["SET_VALUES_KEY", "SetValue", "set_values", "with_set_value"]

SET_VALUES_KEY = "set_values"


@dataclass(frozen=True, slots=True)
class SetValue:
    """One value set by hand for a limit (and resource), in the limit's base unit."""

    limit: str
    value: float
    at: datetime  # when it was set; timezone-aware
    resource: str | None = None
    cap: float | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(self.value) or self.value < 0:
            raise ValueError("the value must be a finite number >= 0")
        if self.cap is not None and (not math.isfinite(self.cap) or self.cap < 0):
            raise ValueError("the cap must be a finite number >= 0")
        if self.at.tzinfo is None:
            raise ValueError("`at` must be timezone-aware")
        if self.resource == "":
            raise ValueError("the resource must not be empty")

    @property
    def key(self) -> tuple[str, str | None]:
        """What a newer value replaces: the same limit and resource."""
        return self.limit, self.resource

    def to_json(self) -> dict[str, Any]:
        """The JSON-able form kept in the state."""
        return {
            "limit": self.limit,
            "value": self.value,
            "at": self.at.isoformat(),
            "resource": self.resource,
            "cap": self.cap,
        }

    @classmethod
    def from_json(cls, raw: Any) -> SetValue:
        """Read back `to_json()`'s form; ValueError when it is not that."""
        if not isinstance(raw, Mapping):
            raise ValueError("a set value is not an object")
        try:
            limit, value, at = raw["limit"], raw["value"], raw["at"]
            resource, cap = raw.get("resource"), raw.get("cap")
        except KeyError as exc:
            raise ValueError(f"a set value lacks {exc.args[0]!r}") from None
        if not isinstance(limit, str) or not isinstance(at, str):
            raise ValueError("a set value's limit and at must be strings")
        if resource is not None and not isinstance(resource, str):
            raise ValueError("a set value's resource must be a string")
        for number in (value, cap):
            if number is not None and (
                isinstance(number, bool) or not isinstance(number, int | float)
            ):
                raise ValueError("a set value's value and cap must be numbers")
        return cls(
            limit,
            float(value),
            datetime.fromisoformat(at),
            resource,
            None if cap is None else float(cap),
        )


def set_values(state: Mapping[str, Any]) -> list[SetValue]:
    """The values set by hand kept in an account's state (ValueError when malformed)."""
    raw = state.get(SET_VALUES_KEY, [])
    if not isinstance(raw, list):
        raise ValueError(f"state {SET_VALUES_KEY!r} is not a list")
    return [SetValue.from_json(item) for item in raw]


def with_set_value(state: Mapping[str, Any], new: SetValue) -> dict[str, Any]:
    """A copy of `state` holding `new` in place of any value with the same limit and resource."""
    kept = [v for v in set_values(state) if v.key != new.key]
    return {**state, SET_VALUES_KEY: [v.to_json() for v in [*kept, new]]}
