"""Domain types shared by engine, notify and store: alert state, severity, silences, outcomes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

OUTCOMES = frozenset(
    {"success", "auth", "rate_limited", "unavailable", "unexpected", "no_data", "error"}
)
"""Every outcome a collector run can have."""


FAILURE_OUTCOMES = OUTCOMES - {"success", "no_data"}
"""Outcomes counted as failures (NoData is not a failure: the provider answered)."""


def _aware(name: str, value: datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {value.isoformat()}")


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
