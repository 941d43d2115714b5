"""Account health rules: stale (no successful poll for N intervals) and auth (rejected)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from quota_watch.engine.rulepack import EffectiveRules
from quota_watch.engine.signals import Signal
from quota_watch.model import AccountStatus

__all__ = ["AccountHealth", "auth_signal", "stale_signal"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountHealth:
    """What the health rules read about one account's polling."""

    last_success_at: datetime | None
    last_outcome: str | None  # None: never polled
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
            last_outcome=status.last_outcome,
            consecutive_failures=status.consecutive_failures,
            interval=interval,
        )


def stale_signal(health: AccountHealth, rules: EffectiveRules, now: datetime) -> Signal:
    """Active when the last success is more than after_runs intervals old (never succeeded:
    after_runs consecutive failed polls). Not while the auth rule covers the account: a
    rejected account is paused, and its auth alert already says why data is missing.

    value = seconds since the last success, cap = the allowed age, ratio = value / cap.
    """
    allowed = (health.interval * rules.stale_after_runs).total_seconds()
    if health.last_outcome is None:
        return Signal(kind="stale", active=False, cap=allowed, unit="seconds")
    if health.last_success_at is not None:
        age = max((now - health.last_success_at).total_seconds(), 0.0)
        stale = age > allowed
    else:
        age = 0.0
        stale = health.consecutive_failures >= rules.stale_after_runs
    covered_by_auth = rules.auth_enabled and health.last_outcome == "auth"
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
        active=rules.auth_enabled and health.last_outcome == "auth",
        severity="critical",
        value=float(health.consecutive_failures),
        unit="count",
    )
