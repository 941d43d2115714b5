"""Domain types shared by engine, notify and store: alert state, severity, silences, outcomes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

SeriesKey = tuple[str, str, str | None]
"""A series of one account: (account, limit, resource)."""


class Outcome(StrEnum):
    """How a collector run ended; the values are stored in the database and shown in metrics."""

    SUCCESS = "success"
    AUTH = "auth"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    UNEXPECTED = "unexpected"
    NO_DATA = "no_data"
    ERROR = "error"

    @property
    def is_failure(self) -> bool:
        """Whether the run counts as a failure (NoData is not one: the provider answered)."""
        return self not in (Outcome.SUCCESS, Outcome.NO_DATA)

    @property
    def keeps_state(self) -> bool:
        """Whether the collector's persistent state is saved after the run (NoData may carry a
        baseline)."""
        return not self.is_failure

    @property
    def is_retried(self) -> bool:
        """Whether the failure is retried with backoff (an auth failure pauses polling instead)."""
        return self.is_failure and self is not Outcome.AUTH


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
    # pending: consecutive polls the condition held; firing: consecutive polls it has been
    # clear (the hold on clearing: it resolves after for_runs of them)
    pending_runs: int
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
