"""What a collector is and returns: Collector, CollectorBase, Reading, CollectContext."""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
)

from quota_watch.sdk.limits import LimitSpec, Period, PeriodKind
from quota_watch.sdk.setvalues import SetValue

if TYPE_CHECKING:
    import httpx


@dataclass(frozen=True, slots=True)
class Reading:
    """One observed value of one limit (and resource) of one account, in the limit's base unit."""

    limit: str
    value: float
    resource: str | None = None
    cap: float | None = None  # only when the provider's API itself reports the cap
    period_start: datetime | None = None  # only when the API says which period it counted
    period_end: datetime | None = None  # only when the API states when that period ends
    period_zone: str | None = None  # IANA zone of the stated cycle (e.g. America/Los_Angeles)
    forecast: float | None = None  # the provider's own projection of `value` at period end

    def __post_init__(self) -> None:
        if not math.isfinite(self.value):
            raise ValueError(f"reading {self.limit!r}: value must be finite, got {self.value!r}")
        if self.cap is not None and (not math.isfinite(self.cap) or self.cap < 0):
            raise ValueError(f"reading {self.limit!r}: cap must be finite and >= 0")
        if self.period_start is not None and self.period_start.tzinfo is None:
            raise ValueError(f"reading {self.limit!r}: period_start must be timezone-aware")
        if self.period_end is not None:
            if self.period_end.tzinfo is None:
                raise ValueError(f"reading {self.limit!r}: period_end must be timezone-aware")
            if self.period_start is not None and self.period_end <= self.period_start:
                raise ValueError(f"reading {self.limit!r}: period_end must be after period_start")
        if self.period_zone is not None:
            _check_zone(self.limit, self.period_zone)
        if self.forecast is not None and (not math.isfinite(self.forecast) or self.forecast < 0):
            raise ValueError(f"reading {self.limit!r}: forecast must be finite and >= 0")


def _check_zone(limit: str, zone: str) -> None:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"reading {limit!r}: period_zone {zone!r} is not an IANA time zone"
        ) from None


@dataclass(frozen=True, slots=True)
class RateLimitStatus:
    """What the provider's API said about our own request budget (e.g. X-RateLimit-* headers)."""

    remaining: float
    limit: float | None = None
    resets_at: datetime | None = None


@dataclass
class CollectContext:
    """What the core hands a collector for one poll."""

    account: str
    now: datetime  # timezone-aware UTC, injected
    periods: dict[str, Period]  # current period of each declared limit
    state: MutableMapping[str, Any] = field(default_factory=dict)
    # `state` is the account's persistent JSON-able scratch space (e.g. last counter values);
    # it is saved in the same transaction as the readings.
    rate_limit: RateLimitStatus | None = None

    def period(self, limit: str) -> Period:
        """The current period of `limit`."""
        return self.periods[limit]

    def report_rate_limit(
        self, remaining: float, limit: float | None = None, resets_at: datetime | None = None
    ) -> None:
        """Record the API request budget the provider reported (exported as a self-metric)."""
        if resets_at is not None and resets_at.tzinfo is None:
            raise ValueError("resets_at must be timezone-aware")
        self.rate_limit = RateLimitStatus(remaining, limit, resets_at)


@runtime_checkable
class Collector(Protocol):
    """A provider collector: fetches and maps usage, never schedules, stores, exports or alerts."""

    name: ClassVar[str]
    Options: ClassVar[type[BaseModel]]

    def __init__(
        self,
        options: Any,
        client: httpx.AsyncClient,
        limits: Mapping[str, LimitSpec] | None = None,
    ) -> None: ...

    async def probe(self) -> None:
        """Cheap credential and permission check; raises a CollectorError on failure."""
        ...

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """Poll the provider once and return readings in base units."""
        ...

    def declared_limits(self) -> dict[str, LimitSpec] | None:
        """Limits declared by the account's options (http_json), or None to use limits.toml."""
        ...


class CollectorBase:
    """Convenience base: stores options, client and the catalogue the core hands in."""

    name: ClassVar[str]
    Options: ClassVar[type[BaseModel]]
    uses_network: ClassVar[bool] = True
    # True: limits can be set by hand (`quota-watch set`); the values reach collect() in
    # ctx.state (see quota_watch.sdk.setvalues) and the poller re-reads the state every poll.
    settable: ClassVar[bool] = False

    def __init__(
        self,
        options: Any,
        client: httpx.AsyncClient,
        limits: Mapping[str, LimitSpec] | None = None,
    ) -> None:
        self.options = options
        self.client = client
        self._catalogue = None if limits is None else dict(limits)

    @property
    def catalogue(self) -> Mapping[str, LimitSpec]:
        """The collector's limits.toml limits, parsed once by the registry and handed in."""
        if self._catalogue is None:
            raise RuntimeError(
                f"collector {self.name!r} was built without its catalogue (pass limits=...)"
            )
        return self._catalogue

    def period_anchors(self) -> Mapping[str, int]:
        """Billing-cycle anchor day per limit, from this account's options (e.g. a configured
        `billing_anchor_day`); the core counts those limits over a cycle starting that day."""
        return {}

    def billing_cycle_anchors(self, day: int | None) -> dict[str, int]:
        """Every billing-cycle limit of the catalogue on anchor `day` (none when `day` is None):
        what `period_anchors` returns for a `billing_anchor_day` option."""
        if day is None:
            return {}
        cycle = PeriodKind.BILLING_CYCLE
        return {name: day for name, spec in self.catalogue.items() if spec.period.kind is cycle}

    async def probe(self) -> None:
        """By default a collector has no cheaper check than a poll."""

    def declared_limits(self) -> dict[str, LimitSpec] | None:
        """Limits come from the collector's limits.toml."""
        return None

    def accept_set(self, value: SetValue) -> None:
        """Check a value set by hand before it is stored; ValueError says why it is refused."""
        raise ValueError(f"the {self.name} collector takes no values set by hand")
