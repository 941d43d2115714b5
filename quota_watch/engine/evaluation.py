"""Evaluating one account after a poll: every rule of every series stepped once, under the
persistence rule of `quota_watch.engine.state` (the last state per fingerprint wins), with the
threshold inhibiting its series' forecast and one period reset per series."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from quota_watch.engine.forecast import forecast_signal
from quota_watch.engine.health import AccountHealth, auth_signal, stale_signal
from quota_watch.engine.provider_forecast import with_provider_forecast
from quota_watch.engine.rulepack import EffectiveRules, RuleOverride, RulePack
from quota_watch.engine.scope import RulesCache
from quota_watch.engine.signals import SeriesView, Signal
from quota_watch.engine.state import AlertSubject, Transition, resolved_now, retire, step
from quota_watch.engine.threshold import threshold_signal
from quota_watch.model import AlertState

__all__ = ["Evaluation", "evaluate_account"]


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
    cache: RulesCache | None = None,
) -> Evaluation:
    """Run every rule of one account after a poll and step each alert once.

    `series`: the account's series with their current-period points (after a failed poll the
    caller may pass none: their alerts are then left as they are). Per series the threshold
    alert steps first; while it fires it inhibits the series' forecast alert (which ends
    without a message, its reminder schedule taken over by a warning that fires now), and a
    period end sends one `period_reset` per series. `health`: the account's
    poll health (None: stale/auth are not evaluated). `prior`: the account's stored alerts
    (resolved ones may be included). `series_complete`: the poll succeeded and `series` is all
    the account has, so alerts of series no longer reported are resolved. `cache`: the rules
    resolved at earlier polls, used when it holds those of this `pack` and `overrides`.
    """
    if cache is None or not cache.fits(pack, overrides):
        cache = RulesCache(pack, overrides)  # for this evaluation only
    out = _Collector()
    stepper = _Stepper(out, _by_series(prior, account), now)
    errors: list[str] = []
    forecasts: dict[tuple[str, str | None], Signal] = {}
    seen: set[tuple[str, str | None]] = set()
    for view in series:
        if (view.provider, view.account) != (provider, account):
            raise ValueError(f"series {view.limit!r} belongs to {view.account!r}")
        if (view.limit, view.resource) in seen:
            raise ValueError(f"series {view.limit!r} ({view.resource}) given twice")
        seen.add((view.limit, view.resource))
        rules = cache.series(view, errors)
        forecasts[(view.limit, view.resource)] = stepper.series(view, rules)

    if health is not None:
        account_subject = AlertSubject(provider=provider, account=account, group=group)
        rules = cache.account(provider=provider, account=account, group=group, errors=errors)
        stepper.advance("auth", auth_signal(health, rules), account_subject, rules)
        stepper.advance("stale", stale_signal(health, rules, now), account_subject, rules)

    if series_complete:
        stepper.resolve_unreported()

    return Evaluation(
        states=list(out.upserts.values()),
        deletions=list(out.deletions),
        transitions=out.transitions,
        forecasts=forecasts,
        errors=errors,
    )


class _Stepper:
    """Steps the alerts of one account, taking each stored alert at most once."""

    def __init__(
        self,
        out: _Collector,
        by_key: dict[tuple[str, str | None, str | None], list[AlertState]],
        now: datetime,
    ) -> None:
        self.out = out
        self.by_key = by_key
        self.now = now

    def advance(
        self, kind: str, signal: Signal, subject: AlertSubject, rules: EffectiveRules
    ) -> AlertState | None:
        """Step the subject's alert of this kind; alerts of its earlier periods retire."""
        fp = subject.fingerprint(kind)
        candidates = self.by_key.pop((kind, subject.limit, subject.resource), [])
        current = next((c for c in candidates if c.fingerprint == fp), None)
        for old in candidates:
            if old is not current and old.status != "resolved":
                self.out.add(old, None, retire(old, signal, self.now))
        state, transitions = step(current, signal, subject, rules, self.now)
        self.out.add(current, state, transitions)
        return state

    def series(self, view: SeriesView, rules: EffectiveRules) -> Signal:
        """Threshold first; while it fires it inhibits the forecast alert. Returns the forecast."""
        forecast = with_provider_forecast(forecast_signal(view, rules), view, rules)
        subject = AlertSubject.of_series(view)
        out = self.out
        first = len(out.transitions)
        threshold = self.advance(
            "threshold", threshold_signal(view, rules, forecast=forecast), subject, rules
        )
        if threshold is not None and threshold.status == "firing":
            forecasts_of = self.by_key.pop(("forecast", view.limit, view.resource), [])
            _continue_schedule(threshold, forecasts_of, out, first)
            _inhibit(forecasts_of, out, self.now)
        else:
            self.advance("forecast", forecast, subject, rules)
        _one_reset(out.transitions, first)
        return forecast

    def resolve_unreported(self) -> None:
        """Series alerts no step took: their series is gone from a complete poll."""
        for (kind, _limit, _resource), leftovers in self.by_key.items():
            if kind not in ("threshold", "forecast"):
                continue
            for old in leftovers:
                self.out.add(old, *_gone(old, self.now))


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
    state = resolved_now(prev, now)
    return state, [Transition("resolved", state)]
