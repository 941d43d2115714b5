"""What the provider emulator serves: accounts, their limits and faults, and a manual clock."""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from quota_watch.sdk import Measure, Unit

__all__ = ["EmulatedAccount", "EmulatedLimit", "Faults", "ManualClock", "demo_accounts"]

_ACCOUNT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_LIMIT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class ManualClock:
    """A clock for tests: stands still until advanced; call it to read the time."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        """Move forward by `delta` or by timedelta keyword arguments (hours=2); returns now."""
        step = (delta or timedelta()) + timedelta(**kwargs)
        with self._lock:
            self._now += step
            return self._now


@dataclass(frozen=True)
class EmulatedLimit:
    """One limit of an emulated account: linear growth from `start_value`, optional cap."""

    start_value: float = 0.0
    growth_per_hour: float = 0.0
    cap: float | None = None
    resources: Sequence[str] | None = None  # per-resource limit: every resource grows alike
    unit: Unit = Unit.COUNT
    measure: Measure = Measure.CUMULATIVE
    period: str | Mapping[str, Any] = "daily"
    title: str = ""

    def __post_init__(self) -> None:
        if self.start_value < 0:
            raise ValueError("start_value must be >= 0")
        if self.cap is not None and self.cap < 0:
            raise ValueError("cap must be >= 0")
        if self.resources is not None and not self.resources:
            raise ValueError("resources must be None (account-wide) or a non-empty list")

    def value_at(self, hours: float) -> float:
        """The used amount `hours` after the emulator started (never below zero)."""
        return max(0.0, self.start_value + self.growth_per_hour * hours)


@dataclass(frozen=True)
class Faults:
    """Misbehaviour of the emulated provider; the rates are probabilities per request."""

    latency: float = 0.0  # seconds added to every answer (mean)
    jitter: float = 0.0  # latency varies uniformly within +/- jitter seconds
    error_rate: float = 0.0  # 503 Service Unavailable
    rate_limit_rate: float = 0.0  # 429 Too Many Requests with Retry-After
    retry_after: int = 30  # seconds, sent with every 429
    timeout_rate: float = 0.0  # sleeps `hang` seconds, then answers normally
    hang: float = 30.0
    malformed_rate: float = 0.0  # 200 with truncated JSON
    auth_fail: bool = False  # 401 to every request, whatever the token

    def __post_init__(self) -> None:
        rates = (self.error_rate, self.rate_limit_rate, self.timeout_rate, self.malformed_rate)
        if any(not 0.0 <= r <= 1.0 for r in rates):
            raise ValueError("fault rates must be between 0 and 1")
        if sum(rates) > 1.0 + 1e-9:
            raise ValueError("fault rates must add up to at most 1")
        if self.latency < 0 or self.jitter < 0 or self.hang < 0 or self.retry_after < 0:
            raise ValueError("latency, jitter, hang and retry_after must be >= 0")


@dataclass(frozen=True)
class EmulatedAccount:
    """One emulated provider account: its name (in the URL), bearer token, limits and faults."""

    name: str
    token: str = field(repr=False)
    limits: Mapping[str, EmulatedLimit]
    faults: Faults | None = None  # None: the emulator's global faults

    def __post_init__(self) -> None:
        if not _ACCOUNT_NAME.match(self.name):
            raise ValueError(f"{self.name!r}: account names use letters, digits, '_', '.', '-'")
        if not self.token:
            raise ValueError(f"account {self.name!r}: token must not be empty")
        for key in self.limits:
            if not _LIMIT_NAME.match(key):
                raise ValueError(f"limit {key!r}: use lowercase letters, digits and '_'")


def demo_accounts(count: int, *, faults: Faults | None = None) -> list[EmulatedAccount]:
    """`count` accounts ("acct-01", ...) with a cumulative, a level and a per-resource limit."""
    accounts: list[EmulatedAccount] = []
    for index in range(1, count + 1):
        name = f"acct-{index:02d}"
        spread = 1.0 + 0.25 * ((index - 1) % 4)  # shards run at different loads
        limits = {
            "requests": EmulatedLimit(
                start_value=5_000 * spread,
                growth_per_hour=2_000 * spread,
                cap=100_000,
                title="Requests per day",
            ),
            "storage": EmulatedLimit(
                start_value=100e6 * spread,
                growth_per_hour=1e6 * spread,
                cap=500e6,
                unit=Unit.BYTES,
                measure=Measure.LEVEL,
                period="none",
                title="Stored bytes",
            ),
            "worker_requests": EmulatedLimit(
                start_value=1_000 * spread,
                growth_per_hour=500 * spread,
                cap=50_000,
                resources=["api", "web"],
                title="Requests per worker per day",
            ),
        }
        accounts.append(
            EmulatedAccount(name, f"emu-token-{index:02d}-{name}", limits, faults=faults)
        )
    return accounts
