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
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from quota_watch.engine.forecast import clearing_band, forecast_signal
from quota_watch.engine.health import AccountHealth, auth_signal, stale_signal
from quota_watch.engine.provider_forecast import with_provider_forecast
from quota_watch.engine.rulepack import EffectiveRules, RuleOverride, RulePack
from quota_watch.engine.scope import account_rules, rules_for_series
from quota_watch.engine.signals import SeriesView, Signal
from quota_watch.engine.threshold import held_severity, threshold_signal
from quota_watch.model import AlertState, MessageKind, Severity

__all__ = [
    "ALERTNAMES",
    "KINDS",
    "AlertSubject",
    "Evaluation",
    "Transition",
    "alertname",
    "evaluate_account",
    "fingerprint",
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


def _retire(prev: AlertState, signal: Signal, now: datetime) -> list[Transition]:
    """Close an alert of an earlier period: a firing one resolves with a period_reset message
    carrying the new period's figures; pending and resolved ones produce nothing."""
    if prev.status != "firing":
        return []
    state = replace(
        prev,
        status="resolved",
        resolved_at=now,
        last_notified_at=now,
        next_reminder_at=None,
        value=signal.value,
        cap=signal.cap,
        ratio=signal.ratio,
        forecast_value=signal.forecast_value,
        exhausts_at=signal.exhausts_at,
        updated_at=now,
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
        retired = _retire(prev, signal, now)
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
        state = replace(
            prev,
            status="resolved",
            resolved_at=now,
            last_notified_at=now,
            next_reminder_at=None,
            **figures,
        )
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


@dataclass
class Evaluation:
    """The outcome of evaluating one account after a poll."""

    states: list[AlertState] = field(default_factory=list)
    """Alerts to save (upsert by fingerprint): live ones with current figures, ones resolved now."""
    deletions: list[str] = field(default_factory=list)
    """Fingerprints to delete: pending alerts whose condition failed before they fired."""
    transitions: list[Transition] = field(default_factory=list)
    """Messages to send, in order."""
    forecasts: dict[tuple[str, str | None], Signal] = field(default_factory=dict)
    """The forecast of every series, by (limit, resource), for the report and the metrics."""
    errors: list[str] = field(default_factory=list)
    """Overrides that could not apply to a series (that series' threshold ran without them)."""


class _Collector:
    """Accumulates step results under the persistence rule (last state per fingerprint wins)."""

    def __init__(self) -> None:
        self.upserts: dict[str, AlertState] = {}
        self.deletions: dict[str, None] = {}
        self.transitions: list[Transition] = []

    def add(
        self, prev: AlertState | None, state: AlertState | None, trans: list[Transition]
    ) -> None:
        for transition in trans:
            self.upserts[transition.state.fingerprint] = transition.state
        self.transitions.extend(trans)
        if state is not None:
            self.upserts[state.fingerprint] = state
        if prev is not None and prev.status == "pending" and prev.fingerprint not in self.upserts:
            self.deletions[prev.fingerprint] = None


def _with_forecast(signal: Signal, forecast: Signal) -> Signal:
    return replace(
        signal,
        forecast_value=forecast.forecast_value,
        forecast_utilization=forecast.forecast_utilization,
        exhausts_at=forecast.exhausts_at,
        noise=forecast.noise,
    )


def _by_series(
    prior: Sequence[AlertState], account: str
) -> dict[tuple[str, str | None, str | None], list[AlertState]]:
    """The account's stored alerts by (kind, limit, resource)."""
    by_key: dict[tuple[str, str | None, str | None], list[AlertState]] = {}
    for alert in prior:
        if alert.account != account:
            raise ValueError(f"alert {alert.fingerprint} belongs to {alert.account!r}")
        by_key.setdefault((alert.kind, alert.limit, alert.resource), []).append(alert)
    return by_key


def evaluate_account(
    *,
    provider: str,
    account: str,
    group: str | None,
    series: Sequence[SeriesView],
    health: AccountHealth | None,
    prior: Sequence[AlertState],
    pack: RulePack,
    overrides: Sequence[RuleOverride] = (),
    now: datetime,
    series_complete: bool = False,
) -> Evaluation:
    """Run every rule of one account after a poll and step each alert once.

    `series`: the account's series with their current-period points (after a failed poll the
    caller may pass none: their alerts are then left as they are). Per series the threshold
    alert steps first; while it fires it inhibits the series' forecast alert (which ends
    without a message, its reminder schedule taken over by a warning that fires now), and a
    period end sends one `period_reset` per series. `health`: the account's
    poll health (None: stale/auth are not evaluated). `prior`: the account's stored alerts
    (resolved ones may be included). `series_complete`: the poll succeeded and `series` is all
    the account has, so alerts of series no longer reported are resolved.
    """
    out = _Collector()
    errors: list[str] = []
    forecasts: dict[tuple[str, str | None], Signal] = {}
    by_key = _by_series(prior, account)

    def advance(
        kind: str, signal: Signal, subject: AlertSubject, rules: EffectiveRules
    ) -> AlertState | None:
        fp = subject.fingerprint(kind)
        candidates = by_key.pop((kind, subject.limit, subject.resource), [])
        current = next((c for c in candidates if c.fingerprint == fp), None)
        for old in candidates:
            if old is not current and old.status != "resolved":
                out.add(old, None, _retire(old, signal, now))
        state, transitions = step(current, signal, subject, rules, now)
        out.add(current, state, transitions)
        return state

    seen: set[tuple[str, str | None]] = set()
    for view in series:
        if (view.provider, view.account) != (provider, account):
            raise ValueError(f"series {view.limit!r} belongs to {view.account!r}")
        if (view.limit, view.resource) in seen:
            raise ValueError(f"series {view.limit!r} ({view.resource}) given twice")
        seen.add((view.limit, view.resource))
        rules = rules_for_series(pack, overrides, view, errors)
        forecast = with_provider_forecast(forecast_signal(view, rules), view, rules)
        forecasts[(view.limit, view.resource)] = forecast
        subject = AlertSubject.of_series(view)
        first = len(out.transitions)
        threshold = advance(
            "threshold", _with_forecast(threshold_signal(view, rules), forecast), subject, rules
        )
        if threshold is not None and threshold.status == "firing":
            forecasts_of = by_key.pop(("forecast", view.limit, view.resource), [])
            _continue_schedule(threshold, forecasts_of, out, first)
            _inhibit(forecasts_of, out, now)
        else:
            advance("forecast", forecast, subject, rules)
        _one_reset(out.transitions, first)

    if health is not None:
        account_subject = AlertSubject(provider=provider, account=account, group=group)
        rules = account_rules(
            pack, overrides, provider=provider, account=account, group=group, errors=errors
        )
        advance("auth", auth_signal(health, rules), account_subject, rules)
        advance("stale", stale_signal(health, rules, now), account_subject, rules)

    if series_complete:
        for (kind, _limit, _resource), leftovers in by_key.items():
            if kind not in ("threshold", "forecast"):
                continue
            for old in leftovers:
                out.add(old, *_gone(old, now))

    return Evaluation(
        states=list(out.upserts.values()),
        deletions=list(out.deletions),
        transitions=out.transitions,
        forecasts=forecasts,
        errors=errors,
    )


def _inhibit(alerts: Sequence[AlertState], out: _Collector, now: datetime) -> None:
    """The threshold alert of the series fires: its forecast alert ends without a message
    (the threshold's messages carry the forecast), so a limit speaks with one voice and one
    reminder schedule."""
    for alert in alerts:
        if alert.status == "resolved":
            continue
        if alert.status == "pending":
            out.add(alert, None, [])
            continue
        quiet = replace(
            alert, status="resolved", resolved_at=now, next_reminder_at=None, updated_at=now
        )
        out.add(alert, quiet, [])


def _continue_schedule(
    threshold: AlertState, forecasts: Sequence[AlertState], out: _Collector, first: int
) -> None:
    """A threshold warning that fires while the forecast of its limit fires takes over the
    forecast's reminder schedule (one schedule per limit) instead of starting a new one."""
    live = next((f for f in forecasts if f.status == "firing"), None)
    if (
        live is None
        or threshold.fired_at != threshold.updated_at
        or threshold.severity != "warning"
    ):
        return
    taken = replace(
        threshold,
        reminder_interval_seconds=live.reminder_interval_seconds,
        next_reminder_at=live.next_reminder_at,
    )
    out.upserts[taken.fingerprint] = taken
    for index in range(first, len(out.transitions)):
        if out.transitions[index].state.fingerprint == taken.fingerprint:
            out.transitions[index] = replace(out.transitions[index], state=taken)


def _one_reset(transitions: list[Transition], first: int) -> None:
    """Keep one period_reset message per series and poll (the threshold's, stepped first)."""
    resets = [i for i in range(first, len(transitions)) if transitions[i].kind == "period_reset"]
    for index in reversed(resets[1:]):
        del transitions[index]


def _gone(prev: AlertState, now: datetime) -> tuple[AlertState | None, list[Transition]]:
    """An alert whose series the account no longer reports: resolved with its last figures."""
    if prev.status != "firing":
        return None, []
    state = replace(
        prev,
        status="resolved",
        resolved_at=now,
        last_notified_at=now,
        next_reminder_at=None,
        updated_at=now,
    )
    return state, [Transition("resolved", state)]
