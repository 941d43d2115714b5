"""The emulated accounts: IDs, tokens, and the rates their usage counters grow at."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = [
    "COUNTERS",
    "STORAGE",
    "CloudflareAccount",
    "Rate",
    "midnight",
    "utc_stamp",
]

COUNTERS = frozenset(
    {
        "kv_reads",
        "kv_writes",
        "kv_deletes",
        "kv_lists",
        "d1_rows_read",
        "d1_rows_written",
        "do_requests",
        "do_duration",
        "do_rows_read",
        "do_rows_written",
        "queues_operations",
        "r2_class_a_operations",
        "r2_class_b_operations",
    }
)
"""Counters a `CloudflareAccount.usage` may drive (besides `workers`), by collector limit name."""

STORAGE = frozenset({"r2_storage", "kv_storage", "d1_storage", "do_storage"})
"""Storage levels a `CloudflareAccount.storage` may hold: resource name -> bytes."""

_HEX32 = re.compile(r"^[0-9a-f]{32}$")


def midnight(moment: datetime) -> datetime:
    """00:00 UTC of the day of `moment`."""
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def utc_stamp(moment: datetime) -> str:
    """`moment` as the API writes timestamps (UTC, microseconds, Z)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Rate:
    """A usage rate: `per_hour` at the emulator's epoch, times `growth` per day (continuously)."""

    per_hour: float
    growth: float = 1.0

    def __post_init__(self) -> None:
        if not math.isfinite(self.per_hour) or self.per_hour < 0:
            raise ValueError("per_hour must be a finite number >= 0")
        if not math.isfinite(self.growth) or self.growth <= 0:
            raise ValueError("growth must be a finite number > 0")

    @classmethod
    def daily_total(cls, total: float, growth: float = 1.0) -> Rate:
        """The rate whose first day after the epoch adds up to `total`."""
        if growth == 1.0:
            return cls(total / 24, growth)
        return cls(total * math.log(growth) / (24 * (growth - 1)), growth)

    def amount(self, start: datetime, end: datetime, epoch: datetime) -> float:
        """Usage accrued in [start, end) (0 when end <= start)."""
        if end <= start:
            return 0.0
        hours = (end - start).total_seconds() / 3600
        if self.growth == 1.0:
            return self.per_hour * hours
        log_g = math.log(self.growth)
        a = (start - epoch).total_seconds() / 86400
        b = (end - epoch).total_seconds() / 86400
        return self.per_hour * 24 / log_g * (math.exp(b * log_g) - math.exp(a * log_g))


@dataclass(frozen=True)
class CloudflareAccount:
    """One emulated Cloudflare account: its ID and token, and how its usage grows.

    `workers` is the account's Workers requests (Pages Functions included): `scripts` shares
    it between Worker scripts and `pages_functions_share` goes to Pages Functions. `usage`
    drives the other counters (see COUNTERS); `storage` holds levels per resource (see
    STORAGE); `pages` maps a Pages project name to its deployments' creation times.
    """

    name: str
    account_id: str
    token: str = field(repr=False)
    workers: Rate = field(default_factory=lambda: Rate(0.0))
    scripts: Mapping[str, float] = field(default_factory=lambda: {"api": 1.0})
    pages_functions_share: float = 0.0
    cpu_time_p99_us: float = 4_000.0
    usage: Mapping[str, Rate] = field(default_factory=dict)
    storage: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    pages: Mapping[str, Sequence[datetime]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _HEX32.match(self.account_id):
            raise ValueError(f"{self.name}: account_id must be 32 lowercase hex digits")
        if not self.token or any(ch.isspace() for ch in self.token):
            raise ValueError(f"{self.name}: token must be non-empty, without whitespace")
        if not self.scripts or any(w < 0 or not math.isfinite(w) for w in self.scripts.values()):
            raise ValueError(f"{self.name}: scripts needs at least one share, all >= 0")
        if sum(self.scripts.values()) <= 0:
            raise ValueError(f"{self.name}: script shares must not all be 0")
        if not 0.0 <= self.pages_functions_share <= 1.0:
            raise ValueError(f"{self.name}: pages_functions_share must be between 0 and 1")
        if self.cpu_time_p99_us < 0:
            raise ValueError(f"{self.name}: cpu_time_p99_us must be >= 0")
        unknown = sorted(set(self.usage) - COUNTERS) + sorted(set(self.storage) - STORAGE)
        if unknown:
            raise ValueError(f"{self.name}: unknown usage or storage key(s): {', '.join(unknown)}")
        for times in self.pages.values():
            if any(t.tzinfo is None for t in times):
                raise ValueError(f"{self.name}: Pages deployment times must be timezone-aware")

    def workers_split(self, start: datetime, end: datetime, epoch: datetime) -> dict[str, int]:
        """Workers requests in [start, end) per script, Pages Functions under the key "".

        Whole requests: the floor of the profile's amount, shared out by largest remainder so
        the parts add up to it exactly."""
        total = math.floor(self.workers.amount(start, end, epoch) + 1e-6)
        weights = {
            script: share * (1.0 - self.pages_functions_share)
            for script, share in self.scripts.items()
        }
        scale = sum(self.scripts.values())
        weights = {script: w / scale for script, w in weights.items()}
        weights[""] = self.pages_functions_share
        exact = {key: total * w for key, w in weights.items()}
        parts = {key: math.floor(v) for key, v in exact.items()}
        left = total - sum(parts.values())
        for key in sorted(exact, key=lambda k: (parts[k] - exact[k], k))[:left]:
            parts[key] += 1
        return parts

    def counter(self, name: str, start: datetime, end: datetime, epoch: datetime) -> float:
        """Counter `name` accrued in [start, end): whole units, except do_duration (GB-s)."""
        rate = self.usage.get(name)
        if rate is None:
            return 0.0
        value = rate.amount(start, end, epoch)
        return value if name == "do_duration" else float(math.floor(value + 1e-6))
