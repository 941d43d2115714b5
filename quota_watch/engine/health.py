"""Account health rules: stale (no successful poll for N intervals) and auth (rejected)."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from quota_watch.engine.rulepack import EffectiveRules
from quota_watch.engine.signals import Signal
from quota_watch.model import AccountStatus, Outcome

__all__ = [
    "STALE_AGE_COMPARISON",
    "STALE_FAILURES_COMPARISON",
    "AccountHealth",
    "auth_signal",
    "is_stale",
    "stale_age_limit",
    "stale_signal",
]

STALE_AGE_COMPARISON: Final = ">"
"""Stale when the last success is older than (not exactly) the allowed age."""
STALE_FAILURES_COMPARISON: Final = ">="
"""Never succeeded: stale once after_runs polls in a row have failed."""
_COMPARE = {">": operator.gt, ">=": operator.ge}


def stale_age_limit(interval: timedelta, after_runs: int) -> timedelta:
    """How old an account's last successful poll may get: after_runs poll intervals."""
    return interval * after_runs


def is_stale(
    last_success_at: datetime | None,
    consecutive_failures: int,
    *,
    interval: timedelta,
    after_runs: int,
    now: datetime,
) -> bool:
    """Whether an account's data is stale: its last success is more than after_runs intervals
    old, or (never succeeded) its last after_runs polls failed. The Prometheus stale rule
    states the same condition in PromQL."""
    if last_success_at is None:
        return bool(_COMPARE[STALE_FAILURES_COMPARISON](consecutive_failures, after_runs))
    age = now - last_success_at
    return bool(_COMPARE[STALE_AGE_COMPARISON](age, stale_age_limit(interval, after_runs)))


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountHealth:
    """What the health rules read about one account's polling."""

    last_success_at: datetime | None
    last_outcome: Outcome | None  # None: never polled
    consecutive_failures: int
    interval: timedelta

    @classmethod
    def from_status(cls, status: AccountStatus | None, interval: timedelta) -> AccountHealth:
        """From the store's AccountStatus (None: the account has never run)."""
        if status is None:
            return cls(
                last_success_at=None, last_outcome=None, consecutive_failures=0, interval=interval
            )
        return cls(
            last_success_at=status.last_success_at,
            last_outcome=Outcome(status.last_outcome),
            consecutive_failures=status.consecutive_failures,
            interval=interval,
        )


def stale_signal(health: AccountHealth, rules: EffectiveRules, now: datetime) -> Signal:
    """Active when the last success is more than after_runs intervals old (never succeeded:
    after_runs consecutive failed polls). Not while the auth rule covers the account: a
    rejected account is paused, and its auth alert already says why data is missing.

    value = seconds since the last success, cap = the allowed age, ratio = value / cap.
    """
    allowed = stale_age_limit(health.interval, rules.stale_after_runs).total_seconds()
    if health.last_outcome is None:
        return Signal(kind="stale", active=False, cap=allowed, unit="seconds")
    stale = is_stale(
        health.last_success_at,
        health.consecutive_failures,
        interval=health.interval,
        after_runs=rules.stale_after_runs,
        now=now,
    )
    age = (
        0.0
        if health.last_success_at is None
        else max((now - health.last_success_at).total_seconds(), 0.0)
    )
    covered_by_auth = rules.auth_enabled and health.last_outcome == Outcome.AUTH
    return Signal(
        kind="stale",
        active=stale and rules.stale_enabled and not covered_by_auth,
        severity="warning",
        value=age,
        cap=allowed,
        ratio=age / allowed if allowed > 0 else None,
        unit="seconds",
    )


def auth_signal(health: AccountHealth, rules: EffectiveRules) -> Signal:
    """Active when the account's last poll ended in an auth error; value = failed polls in a row."""
    return Signal(
        kind="auth",
        active=rules.auth_enabled and health.last_outcome == Outcome.AUTH,
        severity="critical",
        value=float(health.consecutive_failures),
        unit="count",
    )
