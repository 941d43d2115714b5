"""Value objects exchanged with the store: what the poller writes and what readers get back."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

__all__ = [
    "CAP_SOURCES",
    "FAILURE_OUTCOMES",
    "OUTCOMES",
    "SILENCE_MATCHER_KEYS",
    "AccountStatus",
    "AlertState",
    "AlertStatus",
    "LatestReading",
    "MessageKind",
    "OutboxMessage",
    "Point",
    "RollupPoint",
    "RunRecord",
    "Severity",
    "Silence",
    "StoreError",
    "StoredReading",
]

OUTCOMES = frozenset(
    {"success", "auth", "rate_limited", "unavailable", "unexpected", "no_data", "error"}
)
"""Every outcome a collector run can have."""

FAILURE_OUTCOMES = OUTCOMES - {"success", "no_data"}
"""Outcomes counted as failures (NoData is not a failure: the provider answered)."""

CAP_SOURCES = frozenset({"api", "override", "catalogue", "none"})
"""Where a reading's cap came from, by precedence."""


class StoreError(Exception):
    """A database problem, with a message fit for an operator (never containing a password)."""


def _aware(name: str, value: datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {value.isoformat()}")


@dataclass(frozen=True, slots=True)
class StoredReading:
    """One reading as the poller stores it, after cap and period resolution."""

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

    def __post_init__(self) -> None:
        _aware("ts", self.ts)
        _aware("period_start", self.period_start)
        _aware("period_end", self.period_end)
        if not math.isfinite(self.value):
            raise ValueError(f"reading {self.limit!r}: value must be finite, got {self.value!r}")
        if self.cap is not None and not math.isfinite(self.cap):
            raise ValueError(f"reading {self.limit!r}: cap must be finite, got {self.cap!r}")
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
    outcome: str  # one of OUTCOMES
    error: str | None
    readings: int

    def __post_init__(self) -> None:
        _aware("started_at", self.started_at)
        _aware("finished_at", self.finished_at)
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {sorted(OUTCOMES)}, got {self.outcome!r}")
        if self.readings < 0:
            raise ValueError(f"readings must be >= 0, got {self.readings}")

    @property
    def failed(self) -> bool:
        """Whether this run counts as a failure."""
        return self.outcome in FAILURE_OUTCOMES


@dataclass(frozen=True, slots=True)
class LatestReading:
    """The newest stored reading of one series (ts is the time of that sample)."""

    provider: str
    account: str
    limit: str
    resource: str | None
    unit: str
    measure: str
    value: float
    cap: float | None
    cap_source: str
    period_start: datetime | None
    period_end: datetime | None
    ts: datetime


@dataclass(frozen=True, slots=True)
class AccountStatus:
    """Poll health of one account, as the metrics and the stale rule need it."""

    provider: str
    account: str
    last_run_at: datetime
    last_success_at: datetime | None
    last_outcome: str
    last_error: str | None
    last_duration_seconds: float
    runs_total: int
    failures_total: int
    consecutive_failures: int


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


Severity = Literal["info", "warning", "critical"]
AlertStatus = Literal["pending", "firing", "resolved"]
MessageKind = Literal[
    "firing", "escalated", "reminder", "resolved", "period_reset", "test", "digest"
]


@dataclass(frozen=True, slots=True)
class AlertState:
    """One alert (per fingerprint): the state machine's memory, with the current figures."""

    fingerprint: str
    kind: str  # threshold | forecast | stale | auth
    alertname: str  # QuotaAlmostFull, QuotaFullyUsed, ... (follows severity)
    provider: str
    account: str
    group: str | None
    limit: str | None
    resource: str | None
    period_start: datetime | None
    period_end: datetime | None
    status: AlertStatus
    severity: Severity
    pending_runs: int  # consecutive polls the condition held while pending
    started_at: datetime  # first poll the condition held
    fired_at: datetime | None
    resolved_at: datetime | None
    last_notified_at: datetime | None
    next_reminder_at: datetime | None
    reminder_interval_seconds: float
    value: float
    cap: float | None
    ratio: float | None
    forecast_value: float | None
    exhausts_at: datetime | None
    unit: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One message to one notifier; marked sent only when delivery succeeded."""

    id: int | None  # None until stored
    notifier: str
    fingerprint: str | None  # None for test and digest messages
    kind: MessageKind
    severity: Severity
    title: str
    body_text: str
    body_markdown: str
    created_at: datetime
    next_attempt_at: datetime  # for digest-mode notifiers: when the digest is due
    attempts: int
    sent_at: datetime | None
    last_error: str | None


SILENCE_MATCHER_KEYS = frozenset(
    {"provider", "account", "limit", "resource", "group", "alertname", "kind"}
)
"""The AlertState fields a silence may match on."""


@dataclass(frozen=True, slots=True)
class Silence:
    """Alerts matching every matcher send nothing between starts_at and ends_at."""

    id: int | None
    matchers: Mapping[str, str]  # provider, account, limit, resource, group, alertname, kind
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str
    created_at: datetime

    def active(self, now: datetime) -> bool:
        """Whether the silence is in force at `now`."""
        return self.starts_at <= now < self.ends_at

    def matches(self, alert: AlertState, now: datetime) -> bool:
        """Whether the silence is in force at `now` and every matcher equals the alert's field."""
        if not self.active(now):
            return False
        for key, wanted in self.matchers.items():
            actual = getattr(alert, key, None)
            if actual is None or str(actual) != wanted:
                return False
        return True
