"""Value objects exchanged with the store: what the poller writes and what readers get back."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from quota_watch.model import Outcome
from quota_watch.store.common import require_aware

__all__ = [
    "CAP_SOURCES",
    "ClaimLost",
    "Point",
    "RollupPoint",
    "RunRecord",
    "StoreError",
    "StoredReading",
]


CAP_SOURCES = frozenset({"api", "override", "catalogue", "none"})
"""Where a reading's cap came from, by precedence."""


class StoreError(Exception):
    """A database problem, with a message fit for an operator (never containing a password)."""


class ClaimLost(StoreError):
    """Another cluster member has claimed an outbox message since: this one must not send it."""


@dataclass(frozen=True, slots=True)
class StoredReading:
    """One reading as the poller stores it (cap and period resolved) and as readers get it back."""

    provider: str
    account: str
    limit: str
    resource: str | None
    unit: str
    measure: str
    value: float
    cap: float | None
    cap_source: str  # "api" | "override" | "catalogue" | "none"
    period_start: datetime | None
    period_end: datetime | None
    ts: datetime
    period_zone: str | None = None  # IANA zone of the period, when known
    forecast: float | None = None  # the provider's projection of the value at period end

    def __post_init__(self) -> None:
        require_aware("ts", self.ts)
        require_aware("period_start", self.period_start)
        require_aware("period_end", self.period_end)
        if not math.isfinite(self.value):
            raise ValueError(f"reading {self.limit!r}: value must be finite, got {self.value!r}")
        if self.cap is not None and not math.isfinite(self.cap):
            raise ValueError(f"reading {self.limit!r}: cap must be finite, got {self.cap!r}")
        if self.forecast is not None and not math.isfinite(self.forecast):
            raise ValueError(
                f"reading {self.limit!r}: forecast must be finite, got {self.forecast!r}"
            )
        if self.cap_source not in CAP_SOURCES:
            raise ValueError(
                f"reading {self.limit!r}: cap_source must be one of {sorted(CAP_SOURCES)}, "
                f"got {self.cap_source!r}"
            )


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One collector run of one account: when, how it ended, how many readings it produced."""

    provider: str
    account: str
    started_at: datetime
    finished_at: datetime
    outcome: str  # an Outcome value
    error: str | None
    readings: int

    def __post_init__(self) -> None:
        require_aware("started_at", self.started_at)
        require_aware("finished_at", self.finished_at)
        if self.outcome not in set(Outcome):
            raise ValueError(
                f"outcome must be one of {sorted(o.value for o in Outcome)}, got {self.outcome!r}"
            )
        if self.readings < 0:
            raise ValueError(f"readings must be >= 0, got {self.readings}")

    @property
    def failed(self) -> bool:
        """Whether this run counts as a failure."""
        return Outcome(self.outcome).is_failure


@dataclass(frozen=True, slots=True)
class Point:
    """One raw sample of a series."""

    ts: datetime
    value: float
    cap: float | None


@dataclass(frozen=True, slots=True)
class RollupPoint:
    """One hourly or daily bucket of a series: min, max and last value, and how many samples."""

    bucket_start: datetime
    min: float
    max: float
    last: float
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredForecast:
    """The daemon's latest forecast of one series, as computed after a poll at `computed_at`.

    The fields mirror the engine's forecast Signal (the store does not import the engine);
    `notes` are the signal's notes.
    """

    account: str
    limit: str
    resource: str | None
    computed_at: datetime
    active: bool
    sustained: bool | None
    severity: str
    value: float
    cap: float | None
    ratio: float | None
    forecast_value: float | None
    forecast_utilization: float | None
    exhausts_at: datetime | None
    rate: float | None
    unit: str
    points_used: int
    notes: tuple[str, ...] = ()
