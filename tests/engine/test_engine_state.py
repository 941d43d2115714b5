"""The alert state machine, poll by poll on explicit times: every transition of the lifecycle."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter

from quota_watch.engine.evaluation import evaluate_account
from quota_watch.engine.health import AccountHealth
from quota_watch.engine.rulepack import EffectiveRules, RuleOverride, RulePack, effective_rules
from quota_watch.engine.signals import SeriesView, Signal
from quota_watch.engine.state import (
    ALERTNAMES,
    AlertSubject,
    Transition,
    alertname,
    fingerprint,
    step,
)
from quota_watch.engine.threshold import threshold_signal
from quota_watch.model import AlertState, Outcome
from quota_watch.sdk import Measure, Period, PeriodKind

MARCH_START = datetime(2026, 3, 1, tzinfo=UTC)
APRIL_START = datetime(2026, 4, 1, tzinfo=UTC)
MARCH = Period(MARCH_START, APRIL_START)
APRIL = Period(APRIL_START, datetime(2026, 5, 1, tzinfo=UTC))
T0 = datetime(2026, 3, 10, 12, tzinfo=UTC)
POLL = timedelta(minutes=10)
HOUR = timedelta(hours=1)
CAP = 1000.0


def overrides(*entries: dict[str, Any]) -> list[RuleOverride]:
    return TypeAdapter(list[RuleOverride]).validate_python(list(entries))


def rules(*entries: dict[str, Any]) -> EffectiveRules:
    return effective_rules(
        RulePack(),
        overrides(*entries),
        provider="cloudflare",
        account="cf-main",
        limit="kv_writes",
        group=None,
        unit="count",
        cap=CAP,
    )


def series(
    value: float,
    now: datetime,
    *,
    period: Period = MARCH,
    limit: str = "kv_writes",
    measure: Measure = Measure.CUMULATIVE,
    kind: PeriodKind = PeriodKind.CALENDAR_MONTH,
) -> SeriesView:
    return SeriesView(
        provider="cloudflare",
        account="cf-main",
        limit=limit,
        unit="count",
        measure=measure,
        period_kind=kind,
        period=period,
        cap=CAP,
        points=[(now, value)],
        now=now,
    )


class Run:
    """Steps the threshold alert of one series through polls, keeping what the store would."""

    def __init__(self, rule_set: EffectiveRules | None = None) -> None:
        self.rules = rule_set or rules()
        self.state: AlertState | None = None
        self.log: list[Transition] = []

    def poll(self, ratio: float, at: datetime, period: Period = MARCH) -> list[Transition]:
        view = series(ratio * CAP, at, period=period)
        signal = threshold_signal(view, self.rules)
        subject = AlertSubject.of_series(view)
        self.state, transitions = step(self.state, signal, subject, self.rules, at)
        self.log.extend(transitions)
        return transitions


def kinds(transitions: Sequence[Transition]) -> list[str]:
    return [t.kind for t in transitions]


# --- names and fingerprints -------------------------------------------------------------------


def test_alertnames() -> None:
    assert alertname("threshold", "warning") == "QuotaAlmostFull"
    assert alertname("threshold", "critical") == "QuotaFullyUsed"
    assert alertname("forecast", "warning") == "QuotaPredictedFull"
    assert alertname("stale", "warning") == "QuotaDataStale"
    assert alertname("auth", "critical") == "QuotaCollectorAuthFailed"
    assert len(ALERTNAMES) == 6
    with pytest.raises(ValueError, match="no alert"):
        alertname("forecast", "critical")


def test_fingerprint_format() -> None:
    key = "threshold|cf-main|kv_writes||2026-03-01T00:00:00+00:00"
    expected = hashlib.sha1(key.encode()).hexdigest()[:16]
    assert fingerprint("threshold", "cf-main", "kv_writes", None, MARCH_START) == expected
    assert fingerprint("stale", "cf-main") == hashlib.sha1(b"stale|cf-main|||").hexdigest()[:16]
    # the same instant in another zone is the same period
    other_zone = MARCH_START.astimezone(ZoneInfo("Europe/Berlin"))
    assert fingerprint("threshold", "cf-main", "kv_writes", None, other_zone) == expected


def test_fingerprint_is_per_kind_period_and_series() -> None:
    march = AlertSubject.of_series(series(1, T0))
    april = AlertSubject.of_series(series(1, APRIL_START, period=APRIL))
    prints = {
        march.fingerprint("threshold"),
        march.fingerprint("forecast"),
        april.fingerprint("threshold"),
        AlertSubject.of_series(series(1, T0, limit="kv_reads")).fingerprint("threshold"),
    }
    assert len(prints) == 4


def test_level_series_keep_their_fingerprint_across_periods() -> None:
    a = series(1, T0, measure=Measure.LEVEL, kind=PeriodKind.NONE, period=Period(None, None))
    b = dataclasses.replace(a, now=T0 + 40 * 24 * HOUR)
    assert AlertSubject.of_series(a).period_start is None
    assert AlertSubject.of_series(a).fingerprint("threshold") == AlertSubject.of_series(
        b
    ).fingerprint("threshold")


# --- pending -> firing ------------------------------------------------------------------------


def test_warning_fires_after_for_runs_polls() -> None:
    run = Run()
    assert run.poll(0.85, T0) == []
    assert run.state is not None
    assert (run.state.status, run.state.pending_runs, run.state.started_at) == ("pending", 1, T0)
    assert run.state.fired_at is None and run.state.last_notified_at is None

    (firing,) = run.poll(0.86, T0 + POLL)
    assert firing.kind == "firing"
    state = firing.state
    assert state == run.state
    assert (state.status, state.severity, state.alertname) == (
        "firing",
        "warning",
        "QuotaAlmostFull",
    )
    assert state.pending_runs == 0  # while firing: the polls it has been clear
    assert state.started_at == T0
    assert state.fired_at == state.last_notified_at == T0 + POLL
    assert state.next_reminder_at == T0 + POLL + 4 * HOUR
    assert state.reminder_interval_seconds == 4 * 3600
    assert (state.value, state.cap) == (860.0, CAP)
    assert state.ratio == pytest.approx(0.86)
    assert state.period_start == MARCH_START and state.period_end == MARCH.end
    assert (state.provider, state.account, state.limit, state.unit) == (
        "cloudflare",
        "cf-main",
        "kv_writes",
        "count",
    )


def test_for_runs_override() -> None:
    run = Run(rules({"for_runs": 3}))
    assert run.poll(0.9, T0) == []
    assert run.poll(0.9, T0 + POLL) == []
    assert kinds(run.poll(0.9, T0 + 2 * POLL)) == ["firing"]


def test_for_runs_one_fires_at_once() -> None:
    assert kinds(Run(rules({"for_runs": 1})).poll(0.8, T0)) == ["firing"]


def test_critical_fires_at_once() -> None:
    run = Run()
    (firing,) = run.poll(1.0, T0)
    assert firing.kind == "firing"
    assert (firing.state.severity, firing.state.alertname) == ("critical", "QuotaFullyUsed")
    assert firing.state.pending_runs == 0  # while firing: the polls it has been clear


def test_pending_warning_jumping_to_critical_fires_once_as_critical() -> None:
    run = Run(rules({"for_runs": 5}))
    run.poll(0.9, T0)
    transitions = run.poll(1.3, T0 + POLL)
    assert kinds(transitions) == ["firing"]
    assert transitions[0].state.severity == "critical"
    assert transitions[0].state.started_at == T0


def test_pending_that_clears_is_dropped_silently() -> None:
    run = Run()
    run.poll(0.85, T0)
    assert run.poll(0.79, T0 + POLL) == []
    assert run.state is None
    # a new episode starts counting from one again
    assert run.poll(0.85, T0 + 2 * POLL) == []
    assert run.state is not None and run.state.pending_runs == 1


def test_pending_needs_consecutive_polls_without_hysteresis() -> None:
    run = Run()
    run.poll(0.85, T0)
    run.poll(0.78, T0 + POLL)  # inside the clearing band, but not firing yet: dropped
    assert run.state is None


# --- hysteresis, escalation, de-escalation ----------------------------------------------------


def fired(rule_set: EffectiveRules | None = None, ratio: float = 0.85) -> Run:
    run = Run(rule_set)
    run.poll(ratio, T0)
    run.poll(ratio, T0 + POLL)
    assert run.state is not None and run.state.status == "firing"
    return run


def test_clearing_needs_hysteresis() -> None:
    run = fired()
    assert run.poll(0.79, T0 + 2 * POLL) == []
    assert run.poll(0.75, T0 + 3 * POLL) == []
    assert run.state is not None and run.state.status == "firing"
    assert run.state.value == 750.0  # figures follow every poll
    # held through one clear poll (keep_firing_for: for_runs clear polls resolve it) ...
    assert run.poll(0.74, T0 + 4 * POLL) == []
    assert run.state.status == "firing" and run.state.pending_runs == 1
    assert run.state.value == 750.0  # ... keeping the figures it last held on
    (resolved,) = run.poll(0.73, T0 + 5 * POLL)
    assert resolved.kind == "resolved"
    state = resolved.state
    assert state == run.state
    assert (state.status, state.resolved_at, state.next_reminder_at) == (
        "resolved",
        T0 + 5 * POLL,
        None,
    )
    assert state.value == 730.0  # the current figures
    assert state.ratio == pytest.approx(0.73)
    assert state.fired_at == T0 + POLL  # history kept


def test_hysteresis_override() -> None:
    run = fired(rules({"clear_hysteresis": 0.2}))
    assert run.poll(0.61, T0 + 2 * POLL) == []
    assert run.poll(0.59, T0 + 3 * POLL) == []
    assert kinds(run.poll(0.58, T0 + 4 * POLL)) == ["resolved"]


def test_a_single_bad_reading_never_resolves_a_firing_alert() -> None:
    run = fired(ratio=1.1)
    assert run.poll(0.0, T0 + 2 * POLL) == []  # a zero glitch
    assert run.state is not None and run.state.status == "firing"
    assert run.poll(1.1, T0 + 3 * POLL) == []  # back: still the same episode, no message
    assert run.state.pending_runs == 0
    assert run.poll(0.0, T0 + 4 * POLL) == []
    assert kinds(run.poll(0.0, T0 + 5 * POLL)) == ["resolved"]  # confirmed by a second poll


def test_escalation_notifies_at_once_and_restarts_reminders() -> None:
    run = fired()
    at = T0 + 5 * HOUR  # after the first reminder: the interval is 8 h now
    assert kinds(run.poll(0.9, at)) == ["reminder"]
    assert run.state is not None and run.state.reminder_interval_seconds == 8 * 3600
    (escalated,) = run.poll(1.02, at + POLL)
    assert escalated.kind == "escalated"
    assert escalated.previous_severity == "warning"
    state = escalated.state
    assert (state.severity, state.alertname, state.status) == (
        "critical",
        "QuotaFullyUsed",
        "firing",
    )
    assert state.fingerprint == run.log[0].state.fingerprint  # one alert, severity moved
    assert state.fired_at == T0 + POLL
    assert state.last_notified_at == at + POLL
    assert state.next_reminder_at == at + POLL + 4 * HOUR
    assert state.reminder_interval_seconds == 4 * 3600
    assert state.value == 1020.0


def test_de_escalation_is_silent_and_hysteretic() -> None:
    run = fired(ratio=1.1)
    assert run.state is not None and run.state.severity == "critical"
    assert run.poll(0.96, T0 + 2 * POLL) == []
    assert run.state.severity == "critical"
    assert run.poll(0.94, T0 + 3 * POLL) == []
    assert (run.state.severity, run.state.alertname, run.state.status) == (
        "warning",
        "QuotaAlmostFull",
        "firing",
    )
    assert run.state.next_reminder_at == T0 + 4 * HOUR  # schedule untouched
    # back over critical: escalates (and notifies) again
    assert kinds(run.poll(1.0, T0 + 4 * POLL)) == ["escalated"]


def test_critical_inhibits_warning_one_alert_only() -> None:
    run = Run()
    run.poll(0.9, T0)
    run.poll(1.2, T0 + POLL)
    run.poll(1.3, T0 + 2 * POLL)
    assert kinds(run.log) == ["firing"]
    assert {t.state.fingerprint for t in run.log} == {run.state.fingerprint if run.state else ""}


# --- reminders --------------------------------------------------------------------------------


def test_reminders_double_and_cap() -> None:
    run = fired()
    fired_at = T0 + POLL
    at = fired_at
    while at < fired_at + 5 * 24 * HOUR:
        at += POLL
        run.poll(0.9, at)
    reminders = [t for t in run.log if t.kind == "reminder"]
    times = [t.at - fired_at for t in reminders]
    hours = [h * HOUR for h in (4, 12, 28, 52, 76, 100)]
    assert times == hours
    assert [t.state.reminder_interval_seconds / 3600 for t in reminders] == [8, 16, 24, 24, 24, 24]
    assert all(t.state.last_notified_at == t.at for t in reminders)
    assert all(t.state.value == 900.0 for t in reminders)


def test_reminder_settings_override() -> None:
    run = fired(rules({"reminder_initial": "1h", "reminder_factor": 3, "reminder_max": "5h"}))
    at = T0 + POLL
    for _ in range(6 * 24):
        at += POLL
        run.poll(0.9, at)
    times = [t.at - (T0 + POLL) for t in run.log if t.kind == "reminder"][:5]
    assert times == [1 * HOUR, 4 * HOUR, 9 * HOUR, 14 * HOUR, 19 * HOUR]


def test_reminder_waits_for_the_first_poll_after_it_is_due() -> None:
    run = fired()
    assert run.poll(0.9, T0 + POLL + 4 * HOUR - timedelta(seconds=1)) == []
    (reminder,) = run.poll(0.9, T0 + POLL + 4 * HOUR + timedelta(minutes=7))
    assert reminder.kind == "reminder"
    assert reminder.state.next_reminder_at == reminder.at + 8 * HOUR


# --- period reset -----------------------------------------------------------------------------


def test_new_period_resolves_firing_cumulative_alert_with_period_reset() -> None:
    run = fired()
    old = run.state
    assert old is not None
    first_poll = APRIL_START + timedelta(minutes=3)
    (reset,) = run.poll(0.002, first_poll, period=APRIL)
    assert reset.kind == "period_reset"
    state = reset.state
    assert state.fingerprint == old.fingerprint
    assert (state.status, state.resolved_at) == ("resolved", first_poll)
    assert state.period_start == MARCH_START  # the alert of the old period...
    assert state.value == 2.0  # ...with the current figures
    assert state.ratio == pytest.approx(0.002)
    assert run.state is None  # nothing live in April


def test_new_period_starts_fresh_when_still_over() -> None:
    run = fired(ratio=1.5)
    transitions = run.poll(1.2, APRIL_START + POLL, period=APRIL)
    assert kinds(transitions) == ["period_reset", "firing"]
    reset, firing = transitions
    assert reset.state.fingerprint != firing.state.fingerprint
    assert firing.state.period_start == APRIL_START
    assert firing.state.started_at == APRIL_START + POLL


def test_step_refuses_another_series_alert() -> None:
    run = fired()
    assert run.state is not None
    other = series(900, T0 + HOUR, limit="kv_reads")
    signal = threshold_signal(other, run.rules)
    with pytest.raises(ValueError, match="not the threshold alert"):
        step(run.state, signal, AlertSubject.of_series(other), run.rules, T0 + HOUR)


# --- restarts and repeated evaluation ---------------------------------------------------------


def stored(state: AlertState | None) -> AlertState:
    """The state as it comes back from the store: rebuilt field by field."""
    assert state is not None
    return AlertState(**{f.name: getattr(state, f.name) for f in dataclasses.fields(state)})


def test_restart_mid_incident_repeats_nothing_and_forgets_nothing() -> None:
    first = fired()
    at = T0 + POLL
    for _ in range(30):  # 5 h: the 4 h reminder went out
        at += POLL
        first.poll(0.9, at)
    assert kinds(first.log) == ["firing", "reminder"]

    restarted = Run()
    restarted.state = stored(first.state)
    for _ in range(6 * 24):
        at += POLL
        restarted.poll(0.9, at)
    # no second "firing"; the next reminder exactly when the old process had scheduled it
    assert kinds(restarted.log) == ["reminder", "reminder"]
    assert [t.at - (T0 + POLL) for t in restarted.log] == [12 * HOUR, 28 * HOUR]


def test_restart_while_pending_keeps_counting() -> None:
    run = Run()
    run.poll(0.9, T0)
    restarted = Run()
    restarted.state = stored(run.state)
    assert kinds(restarted.poll(0.9, T0 + POLL)) == ["firing"]


def test_same_poll_evaluated_twice_changes_nothing() -> None:
    run = Run()
    run.poll(0.9, T0)
    before = run.state
    assert run.poll(0.9, T0) == []
    assert run.state == before  # pending_runs not counted twice
    run.poll(0.9, T0 + POLL)
    assert run.poll(0.1, T0 + POLL) == []  # an older/equal time cannot resolve it either
    assert run.state is not None and run.state.status == "firing"


def test_resolved_alert_starts_a_new_episode() -> None:
    run = fired()
    run.poll(0.5, T0 + 2 * POLL)
    run.poll(0.5, T0 + 3 * POLL)
    assert run.state is not None and run.state.status == "resolved"
    assert run.poll(0.9, T0 + 4 * POLL) == []
    assert run.state is not None
    assert (run.state.status, run.state.pending_runs, run.state.fired_at) == ("pending", 1, None)
    assert kinds(run.poll(0.9, T0 + 5 * POLL)) == ["firing"]
    assert run.state.started_at == T0 + 4 * POLL


def test_disabling_the_rule_resolves_a_firing_alert() -> None:
    run = fired()
    run.rules = rules({"threshold": False})
    assert kinds(run.poll(0.95, T0 + 2 * POLL)) == ["resolved"]  # no hold: a deliberate change


# --- other kinds ------------------------------------------------------------------------------


def signal(kind: str, active: bool, **kw: Any) -> Signal:
    return Signal(kind=kind, active=active, **kw)


ACCOUNT = AlertSubject(provider="cloudflare", account="cf-main")


def test_forecast_waits_for_for_runs_and_clears_when_not_sustained() -> None:
    r = rules()
    fc = {"severity": "warning", "value": 600.0, "cap": CAP, "forecast_value": 1200.0}
    state, out = step(None, signal("forecast", True, sustained=True, **fc), ACCOUNT, r, T0)
    assert out == [] and state is not None and state.status == "pending"
    state, out = step(state, signal("forecast", True, sustained=True, **fc), ACCOUNT, r, T0 + POLL)
    assert kinds(out) == ["firing"]
    assert state is not None and state.alertname == "QuotaPredictedFull"
    assert state.forecast_value == 1200.0
    # inactive but sustained (within the band): stays firing
    state, out = step(
        state, signal("forecast", False, sustained=True, **fc), ACCOUNT, r, T0 + 2 * POLL
    )
    assert out == [] and state is not None and state.status == "firing"
    state, out = step(
        state, signal("forecast", False, sustained=False, **fc), ACCOUNT, r, T0 + 3 * POLL
    )
    assert out == [] and state is not None and state.status == "firing"  # held one poll
    state, out = step(
        state, signal("forecast", False, sustained=False, **fc), ACCOUNT, r, T0 + 4 * POLL
    )
    assert kinds(out) == ["resolved"]


def test_forecast_for_runs_override() -> None:
    r = rules({"forecast_for_runs": 1})
    _, out = step(None, signal("forecast", True), ACCOUNT, r, T0)
    assert kinds(out) == ["firing"]


def test_stale_and_auth_fire_at_once_and_resolve() -> None:
    r = rules()
    state, out = step(None, signal("auth", True, severity="critical"), ACCOUNT, r, T0)
    assert kinds(out) == ["firing"]
    assert state is not None
    assert (state.alertname, state.severity, state.limit, state.period_start) == (
        "QuotaCollectorAuthFailed",
        "critical",
        None,
        None,
    )
    state, out = step(state, signal("auth", False, severity="critical"), ACCOUNT, r, T0 + POLL)
    assert kinds(out) == ["resolved"]
    state, out = step(None, signal("stale", True, value=4000.0, unit="seconds"), ACCOUNT, r, T0)
    assert kinds(out) == ["firing"]
    assert state is not None
    assert (state.alertname, state.value, state.unit) == ("QuotaDataStale", 4000.0, "seconds")


# --- evaluate_account -------------------------------------------------------------------------


def evaluate(
    views: Sequence[SeriesView],
    prior: Sequence[AlertState],
    now: datetime,
    *,
    health: AccountHealth | None = None,
    entries: Sequence[dict[str, Any]] = (),
    complete: bool = False,
) -> Any:
    return evaluate_account(
        provider="cloudflare",
        account="cf-main",
        group=None,
        series=views,
        health=health,
        prior=prior,
        pack=RulePack(),
        overrides=overrides(*entries),
        now=now,
        series_complete=complete,
    )


class Store:
    """What the store would hold between polls, applying an Evaluation like save_alerts."""

    def __init__(self) -> None:
        self.alerts: dict[str, AlertState] = {}
        self.sent: list[Transition] = []

    def apply(self, evaluation: Any) -> None:
        for state in evaluation.states:
            self.alerts[state.fingerprint] = stored(state)
        for fp in evaluation.deletions:
            del self.alerts[fp]
        self.sent.extend(evaluation.transitions)

    def live(self) -> dict[str, str]:
        return {a.alertname: a.status for a in self.alerts.values() if a.status != "resolved"}


def test_evaluate_account_over_polls() -> None:
    db = Store()
    healthy = AccountHealth(
        last_success_at=T0, last_outcome=Outcome.SUCCESS, consecutive_failures=0, interval=POLL
    )
    at = T0
    for value in (850.0, 870.0, 1005.0):
        db.apply(evaluate([series(value, at)], list(db.alerts.values()), at, health=healthy))
        at += POLL
    assert kinds(db.sent) == ["firing", "escalated"]
    assert db.live() == {"QuotaFullyUsed": "firing"}

    rejected = dataclasses.replace(healthy, last_outcome=Outcome.AUTH, consecutive_failures=1)
    evaluation = evaluate([], list(db.alerts.values()), at, health=rejected)
    db.apply(evaluation)
    assert [(t.kind, t.state.alertname) for t in evaluation.transitions] == [
        ("firing", "QuotaCollectorAuthFailed")
    ]
    # no series after a failed poll: the threshold alert stays as it was
    assert db.live() == {"QuotaFullyUsed": "firing", "QuotaCollectorAuthFailed": "firing"}


def test_evaluate_account_deletes_cleared_pending_alerts() -> None:
    db = Store()
    db.apply(evaluate([series(850.0, T0)], [], T0))
    (pending,) = db.alerts.values()
    evaluation = evaluate([series(100.0, T0 + POLL)], list(db.alerts.values()), T0 + POLL)
    assert evaluation.deletions == [pending.fingerprint]
    assert evaluation.transitions == []


def test_evaluate_account_period_reset_and_old_pending() -> None:
    db = Store()
    db.apply(evaluate([series(900.0, T0)], [], T0))
    db.apply(evaluate([series(950.0, T0 + POLL)], list(db.alerts.values()), T0 + POLL))
    assert db.live() == {"QuotaAlmostFull": "firing"}
    at = APRIL_START + POLL
    evaluation = evaluate([series(5.0, at, period=APRIL)], list(db.alerts.values()), at)
    db.apply(evaluation)
    assert kinds(evaluation.transitions) == ["period_reset"]
    assert db.live() == {}
    assert [a.status for a in db.alerts.values()] == ["resolved"]  # kept for the store to prune


def test_evaluate_account_resolves_series_gone_from_a_complete_poll() -> None:
    db = Store()
    for i in range(2):
        db.apply(evaluate([series(950.0, T0 + i * POLL)], list(db.alerts.values()), T0 + i * POLL))
    other = series(10.0, T0 + 2 * POLL, limit="kv_reads")
    kept = evaluate([other], list(db.alerts.values()), T0 + 2 * POLL)
    assert kept.transitions == []
    gone = evaluate([other], list(db.alerts.values()), T0 + 2 * POLL, complete=True)
    assert [(t.kind, t.state.limit, t.state.value) for t in gone.transitions] == [
        ("resolved", "kv_writes", 950.0)
    ]


def test_evaluate_account_reports_forecasts_for_every_series() -> None:
    points = [(T0 + i * HOUR, 100.0 + 10.0 * i) for i in range(5)]
    now = points[-1][0]
    view = dataclasses.replace(series(0, now), points=points)
    evaluation = evaluate([view], [], now)
    forecast = evaluation.forecasts[("kv_writes", None)]
    assert forecast.forecast_value is not None and not forecast.active
    assert evaluation.states == []


def test_threshold_alerts_carry_the_forecast() -> None:
    points = [(T0 + i * HOUR, 900.0 + 10.0 * i) for i in range(5)]
    now = points[-1][0]
    view = dataclasses.replace(series(0, now), points=points)
    evaluation = evaluate([view], [], now, entries=[{"for_runs": 1, "forecast_for_runs": 1}])
    # the threshold alert inhibits the forecast alert of its series: one message, which
    # carries the forecast's figures
    by_name = {t.state.alertname: t.state for t in evaluation.transitions}
    assert set(by_name) == {"QuotaAlmostFull"}
    forecast = evaluation.forecasts[("kv_writes", None)]
    assert forecast.active
    assert by_name["QuotaAlmostFull"].forecast_value == forecast.forecast_value
    assert by_name["QuotaAlmostFull"].exhausts_at == now + timedelta(hours=6)


def test_a_firing_forecast_ends_quietly_when_the_threshold_fires() -> None:
    db = Store()
    entries = [{"forecast_for_runs": 1}]
    at = T0
    for i in range(12):  # 40 per hour from 600: projected over the cap, under 80 % for 5 h
        points = [(T0 + j * HOUR, 600.0 + 40.0 * j) for j in range(i + 1)]
        at = points[-1][0]
        view = dataclasses.replace(series(0, at), points=points)
        db.apply(evaluate([view], list(db.alerts.values()), at, entries=entries))
    sent = [(t.kind, t.state.alertname, (t.at - T0) / HOUR) for t in db.sent]
    assert sent == [
        ("firing", "QuotaPredictedFull", 3),  # 4 points over 3 h (min_span)
        ("firing", "QuotaAlmostFull", 6),  # 800 at 5 h, for_runs 2
        ("reminder", "QuotaAlmostFull", 7),  # the forecast's schedule: 4 h after 3 h
        ("escalated", "QuotaFullyUsed", 10),
    ]
    assert db.live() == {"QuotaFullyUsed": "firing"}


def test_evaluate_account_override_errors_do_not_stop_evaluation() -> None:
    entries = [{"warning": 0.5, "critical": "4 GB"}]  # GB on a count limit
    evaluation = evaluate([series(1000.0, T0)], [], T0, entries=entries)
    assert evaluation.errors == [
        "cf-main/kv_writes: rules[0].critical: '4 GB': unknown suffix "
        "'GB' for a count quantity (allowed: k, m, g)"
    ]
    # warning 0.5 still applies (ratio); the absolute critical cannot
    assert [t.state.alertname for t in evaluation.transitions] == []
    assert [s.status for s in evaluation.states] == ["pending"]


def test_evaluate_account_refuses_foreign_alerts() -> None:
    foreign = dataclasses.replace(stored(fired().state), account="other", fingerprint="0" * 16)
    with pytest.raises(ValueError, match="belongs to"):
        evaluate([], [foreign], T0)


def test_stale_via_evaluate_account() -> None:
    db = Store()
    old_success = AccountHealth(
        last_success_at=T0 - 2 * HOUR,
        last_outcome=Outcome.UNAVAILABLE,
        consecutive_failures=4,
        interval=POLL,
    )
    evaluation = evaluate([], [], T0, health=old_success)
    db.apply(evaluation)
    assert [(t.kind, t.state.alertname, t.state.value) for t in evaluation.transitions] == [
        ("firing", "QuotaDataStale", 7200.0)
    ]
    recovered = dataclasses.replace(
        old_success, last_success_at=T0 + POLL, last_outcome=Outcome.SUCCESS
    )
    evaluation = evaluate([], list(db.alerts.values()), T0 + POLL, health=recovered)
    assert kinds(evaluation.transitions) == ["resolved"]


def test_evaluate_account_refuses_duplicate_series() -> None:
    with pytest.raises(ValueError, match="given twice"):
        evaluate([series(1.0, T0), series(2.0, T0)], [], T0)


def test_evaluate_account_drops_pending_of_a_series_gone() -> None:
    db = Store()
    db.apply(evaluate([series(950.0, T0)], [], T0))
    (pending,) = db.alerts.values()
    gone = evaluate([], list(db.alerts.values()), T0 + POLL, complete=True)
    assert gone.deletions == [pending.fingerprint]
    assert gone.transitions == []
