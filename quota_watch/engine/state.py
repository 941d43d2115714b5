"""The alert state machine: pending -> firing -> resolved, escalation, reminders, period resets.

One alert per fingerprint = (kind, account, limit, resource, period start). The threshold
warning and critical levels are ONE alert whose severity (and alertname) moves, which is how
critical inhibits warning and how an escalation notifies at once. Every poll calls `step` once
per (kind, series) — `evaluate_account` does it for a whole account — and every call updates the
alert's current figures, so each transition (a message to send) carries the CURRENT value, cap,
ratio and forecast. The engine does no I/O: the caller saves the returned states and queues a
message per transition in one transaction, so a restart neither repeats nor loses one.

Persistence rule (what `evaluate_account` applies): save the returned state and every
transition's state (the last one per fingerprint wins); a prior alert that appears in neither
is deleted when it was pending, and kept as it is when it was already resolved.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from quota_watch.engine.forecast import clearing_band
from quota_watch.engine.rulepack import EffectiveRules
from quota_watch.engine.signals import SeriesView, Signal
from quota_watch.engine.threshold import held_severity
from quota_watch.model import AlertState, MessageKind, Severity

__all__ = [
    "ALERTNAMES",
    "KINDS",
    "AlertSubject",
    "Transition",
    "alertname",
    "fingerprint",
    "resolved_now",
    "retire",
    "step",
]

KINDS = ("threshold", "forecast", "stale", "auth")
"""Rule kinds, in the order evaluate_account runs them."""

ALERTNAMES: dict[tuple[str, Severity], str] = {
    ("threshold", "warning"): "QuotaAlmostFull",
    ("threshold", "critical"): "QuotaFullyUsed",
    ("forecast", "warning"): "QuotaPredictedFull",
    ("stale", "warning"): "QuotaDataStale",
    ("auth", "critical"): "QuotaCollectorAuthFailed",
    ("shard", "info"): "QuotaShardSplitAdvised",
}
"""Alert name by (kind, severity); also the Prometheus alert rule names."""

_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}


def alertname(kind: str, severity: Severity) -> str:
    """The alert name of `kind` at `severity` (QuotaAlmostFull, QuotaFullyUsed, ...)."""
    try:
        return ALERTNAMES[(kind, severity)]
    except KeyError:
        raise ValueError(f"no alert {kind!r} at severity {severity!r}") from None


# A step takes the same fingerprint several times (the evaluation, the step, a new state):
# cached across them; a few per series, so a small cache holds an account's evaluation.
@lru_cache(maxsize=256)
def fingerprint(
    kind: str,
    account: str,
    limit: str | None = None,
    resource: str | None = None,
    period_start: datetime | None = None,
) -> str:
    """sha1("kind|account|limit|resource|period_start_iso")[:16]; empty parts for None."""
    period = "" if period_start is None else period_start.astimezone(UTC).isoformat()
    key = "|".join((kind, account, limit or "", resource or "", period))
    return hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:16]


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertSubject:
    """What an alert is about: a series (with the period identifying it) or a whole account."""

    provider: str
    account: str
    group: str | None = None
    limit: str | None = None
    resource: str | None = None
    unit: str = ""
    period_start: datetime | None = None
    period_end: datetime | None = None

    @classmethod
    def of_series(cls, view: SeriesView) -> AlertSubject:
        """The subject of a series' alerts (period only for cumulative calendar limits)."""
        period = view.alert_period
        return cls(
            provider=view.provider,
            account=view.account,
            group=view.group,
            limit=view.limit,
            resource=view.resource,
            unit=view.unit,
            period_start=period.start,
            period_end=period.end,
        )

    def fingerprint(self, kind: str) -> str:
        """This subject's fingerprint for rule `kind`."""
        return fingerprint(kind, self.account, self.limit, self.resource, self.period_start)


@dataclass(frozen=True, slots=True)
class Transition:
    """A change worth a message: `state` is the alert right after it, with current figures."""

    kind: MessageKind  # firing | escalated | reminder | resolved | period_reset
    state: AlertState
    previous_severity: Severity | None = None  # set on escalated

    @property
    def at(self) -> datetime:
        """When it happened (the evaluation time)."""
        return self.state.updated_at


def _figures(signal: Signal, subject: AlertSubject, now: datetime) -> dict[str, Any]:
    return {
        "provider": subject.provider,
        "group": subject.group,
        "value": signal.value,
        "cap": signal.cap,
        "ratio": signal.ratio,
        "forecast_value": signal.forecast_value,
        "exhausts_at": signal.exhausts_at,
        "unit": signal.unit or subject.unit,
        "updated_at": now,
    }


def _same_series(prev: AlertState, kind: str, subject: AlertSubject) -> bool:
    return (prev.kind, prev.account, prev.limit, prev.resource) == (
        kind,
        subject.account,
        subject.limit,
        subject.resource,
    )


def resolved_now(prev: AlertState, now: datetime, **changes: Any) -> AlertState:
    """`prev` resolved at `now`, its message sent now, no reminder left; `changes` override
    (the current figures, say)."""
    return replace(
        prev,
        **{
            "status": "resolved",
            "resolved_at": now,
            "last_notified_at": now,
            "next_reminder_at": None,
            "updated_at": now,
            **changes,
        },
    )


def retire(prev: AlertState, signal: Signal, now: datetime) -> list[Transition]:
    """Close an alert of an earlier period: a firing one resolves with a period_reset message
    carrying the new period's figures; pending and resolved ones produce nothing."""
    if prev.status != "firing":
        return []
    state = resolved_now(
        prev,
        now,
        value=signal.value,
        cap=signal.cap,
        ratio=signal.ratio,
        forecast_value=signal.forecast_value,
        exhausts_at=signal.exhausts_at,
    )
    return [Transition("period_reset", state)]


def _fire(state: AlertState, rules: EffectiveRules, now: datetime) -> AlertState:
    return replace(
        state,
        status="firing",
        pending_runs=0,
        fired_at=now,
        last_notified_at=now,
        reminder_interval_seconds=rules.reminder_initial.total_seconds(),
        next_reminder_at=now + rules.reminder_initial,
    )


def _fires_at_once(kind: str, severity: Severity, pending_runs: int, rules: EffectiveRules) -> bool:
    if kind == "threshold" and severity == "critical":
        return True
    return pending_runs >= rules.for_runs_of(kind)


def step(
    prev: AlertState | None,
    signal: Signal,
    subject: AlertSubject,
    rules: EffectiveRules,
    now: datetime,
) -> tuple[AlertState | None, list[Transition]]:
    """Advance one alert by one poll; returns the alert (None: nothing live) and transitions.

    - new condition: pending; fires after for_runs consecutive active polls (a critical
      threshold and for_runs = 1 at once); a pending alert whose condition fails is dropped
      (None) without a message.
    - firing threshold: hysteresis via threshold.held_severity with the band of
      forecast.clearing_band (clear_hysteresis, wider on a noisy series): escalation at the
      plain critical ratio notifies at once as `escalated` and restarts reminders;
      de-escalation below critical - band only changes severity/alertname; clearing below
      warning - band resolves. Other kinds clear when signal.sustained (the forecast's
      condition with its clearing band; else signal.active) fails.
    - hold on clearing (keep_firing_for): a firing alert resolves only after for_runs clear
      polls in a row (pending_runs counts them while firing); the polls in between change
      nothing, so one bad reading neither resolves it nor shows in its figures. A disabled
      rule resolves at once.
    - reminders: at the first poll at/after next_reminder_at; the interval grows by
      reminder_factor up to reminder_max.
    - `prev` from an earlier period of the same series (another fingerprint): a firing one is
      resolved with a `period_reset` transition, then the new period starts from nothing.
    - `prev` already resolved: a new episode starts (the same fingerprint is reused).
    - `now` not after prev.updated_at (the same poll evaluated again): prev, unchanged.
    """
    kind = signal.kind
    fp = subject.fingerprint(kind)
    retired: list[Transition] = []
    if prev is not None and prev.fingerprint != fp:
        if not _same_series(prev, kind, subject):
            raise ValueError(f"alert {prev.fingerprint} is not the {kind} alert of this series")
        retired = retire(prev, signal, now)
        prev = None
    if prev is not None and now <= prev.updated_at:
        return prev, []
    if prev is not None and prev.status == "resolved":
        prev = None
    figures = _figures(signal, subject, now)
    if prev is None or prev.status == "pending":
        state, transitions = _step_open(prev, signal, subject, rules, now, figures)
    else:
        state, transitions = _step_firing(prev, signal, rules, now, figures)
    return state, retired + transitions


def _step_open(
    prev: AlertState | None,
    signal: Signal,
    subject: AlertSubject,
    rules: EffectiveRules,
    now: datetime,
    figures: dict[str, Any],
) -> tuple[AlertState | None, list[Transition]]:
    """Step a new or pending alert: dropped when its condition fails, fired once it held for
    long enough."""
    kind = signal.kind
    if not signal.active or not rules.enabled(kind):
        return None, []
    severity = signal.severity
    if prev is None:
        state = AlertState(
            fingerprint=subject.fingerprint(kind),
            kind=kind,
            alertname=alertname(kind, severity),
            account=subject.account,
            limit=subject.limit,
            resource=subject.resource,
            period_start=subject.period_start,
            period_end=subject.period_end,
            status="pending",
            severity=severity,
            pending_runs=1,
            started_at=now,
            fired_at=None,
            resolved_at=None,
            last_notified_at=None,
            next_reminder_at=None,
            reminder_interval_seconds=rules.reminder_initial.total_seconds(),
            **figures,
        )
    else:
        state = replace(
            prev,
            severity=severity,
            alertname=alertname(kind, severity),
            pending_runs=prev.pending_runs + 1,
            **figures,
        )
    if _fires_at_once(kind, severity, state.pending_runs, rules):
        state = _fire(state, rules, now)
        return state, [Transition("firing", state)]
    return state, []


def _held(prev: AlertState, signal: Signal, rules: EffectiveRules) -> Severity | None:
    """The severity a firing alert keeps (None: its condition cleared)."""
    kind = signal.kind
    if kind == "threshold":
        band = clearing_band(rules, signal.noise, signal.cap)
        return held_severity(signal.ratio, prev.severity, rules, band)
    holds = signal.active if signal.sustained is None else signal.sustained
    return signal.severity if holds and rules.enabled(kind) else None


def _step_firing(
    prev: AlertState,
    signal: Signal,
    rules: EffectiveRules,
    now: datetime,
    figures: dict[str, Any],
) -> tuple[AlertState, list[Transition]]:
    """Step a firing alert: resolve (after for_runs clear polls in a row: one bad reading
    never resolves it), escalate, change severity quietly, or remind."""
    held = _held(prev, signal, rules)
    holding = rules.enabled(signal.kind) and prev.pending_runs + 1 < rules.for_runs_of(signal.kind)
    if held is None and holding:
        # Held through a clear poll: the figures stay those of the last poll it held on, so
        # a reminder in the meantime does not report a glitch.
        return replace(prev, pending_runs=prev.pending_runs + 1, updated_at=now), []
    if held is None:
        state = resolved_now(prev, now, **figures)
        return state, [Transition("resolved", state)]
    state = replace(
        prev, severity=held, alertname=alertname(signal.kind, held), pending_runs=0, **figures
    )
    if _RANK[held] > _RANK[prev.severity]:
        state = replace(
            state,
            last_notified_at=now,
            reminder_interval_seconds=rules.reminder_initial.total_seconds(),
            next_reminder_at=now + rules.reminder_initial,
        )
        return state, [Transition("escalated", state, previous_severity=prev.severity)]
    if prev.next_reminder_at is not None and now >= prev.next_reminder_at:
        interval = min(
            prev.reminder_interval_seconds * rules.reminder_factor,
            rules.reminder_max.total_seconds(),
        )
        state = replace(
            state,
            last_notified_at=now,
            reminder_interval_seconds=interval,
            next_reminder_at=now + timedelta(seconds=interval),
        )
        return state, [Transition("reminder", state)]
    return state, []
