"""The github collector: the month's billing usage report, summed into five free-tier limits."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel

from quota_watch.sdk import (
    CollectContext,
    CollectorBase,
    LimitSpec,
    RateLimitStatus,
    Reading,
    UnexpectedResponse,
)
from quota_watch_collectors.github.billing import (
    ACTIONS_MINUTES,
    CODESPACES_CORE_HOURS,
    CODESPACES_STORAGE,
    GIB,
    LIMITS,
    PACKAGES_BANDWIDTH,
    SHARED_STORAGE,
    codespaces_cores,
    is_uncounted_runner_sku,
    item_day,
    normalize_sku,
    normalize_unit,
    plan_quota,
)
from quota_watch_collectors.github.client import GitHubClient
from quota_watch_collectors.github.models import UsageItem
from quota_watch_collectors.github.options import GitHubOptions

if TYPE_CHECKING:
    import httpx

__all__ = ["GitHubCollector", "plan_limits"]

log = logging.getLogger(__name__)

_CODESPACES_STORAGE_SKUS = frozenset({"codespaces_storage", "codespaces_prebuild_storage"})


def plan_limits(
    options: GitHubOptions, catalogue: Mapping[str, LimitSpec]
) -> dict[str, LimitSpec] | None:
    """The catalogue adjusted to the account's plan; None where it applies as is.

    Caps come from the documented plan table, so they rank as catalogue caps: an
    `[accounts.limits]` override still wins, and readings never claim an API-reported cap.
    """
    if options.plan == "free" and options.personal:
        return None
    quota = plan_quota(options.plan, options.personal)
    account = "a personal account" if options.personal else "an organization"
    limits: dict[str, LimitSpec] = {}
    for name, spec in catalogue.items():
        data = spec.model_dump()
        data["cap"] = quota.cap(name)
        data["notes"] = f"Cap: the {options.plan} plan of {account}. {spec.notes}"
        if name.startswith("codespaces_") and data["cap"] is None:
            data["enforcement"] = "billed"
            data["notes"] = (
                "Organizations get no included Codespaces usage: all of it is billed, so "
                f"this limit has no cap. {spec.notes}"
            )
        limits[name] = LimitSpec.model_validate(data)
    return limits


@dataclass(frozen=True, slots=True)
class _Window:
    """The [start, end) a limit is counted over, in UTC."""

    start: datetime
    end: datetime

    def holds(self, day: date) -> bool:
        """Whether a daily usage item of `day` belongs to the window."""
        return self.start <= datetime.combine(day, time(), UTC) < self.end

    @property
    def hours(self) -> float:
        """Hours in the window: GitHub divides GB-hours by the hours of the billing month."""
        return (self.end - self.start) / timedelta(hours=1)


def _calendar_month(now: datetime) -> _Window:
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return _Window(start, end)


def _months(windows: Iterable[_Window], now: datetime) -> list[tuple[int, int]]:
    """Every (year, month) overlapping a window up to now, in order."""
    months: set[tuple[int, int]] = set()
    for window in windows:
        last = min(now, window.end - timedelta(microseconds=1))
        year, month = window.start.year, window.start.month
        while (year, month) <= (last.year, last.month):
            months.add((year, month))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return sorted(months)


@dataclass(frozen=True, slots=True)
class _Dated:
    """A usage item with its parsed day and normalised SKU and unit."""

    label: str  # "item 3 of 2026-11", for messages
    day: date
    sku: str
    unit: str
    item: UsageItem


class _Tally:
    """Sums the items of each limit inside its window, checking units as it goes."""

    def __init__(self, options: GitHubOptions, windows: Mapping[str, _Window], where: str) -> None:
        self.options = options
        self.windows = windows
        self.where = where
        excluded = {name.lower() for name in options.exclude_repositories}
        self.excluded = excluded
        self.sums: dict[str, float] = dict.fromkeys(LIMITS, 0.0)
        self.unknown_minutes: dict[str, float] = defaultdict(float)
        self.unknown_compute: dict[str, float] = defaultdict(float)
        self.ignored = 0

    def _excluded(self, item: UsageItem) -> bool:
        name = (item.repository_name or "").lower()
        return bool(name) and (name in self.excluded or name.rsplit("/", 1)[-1] in self.excluded)

    def _unit(self, entry: _Dated, expected: str) -> None:
        if entry.unit != expected:
            raise UnexpectedResponse(
                f"{self.where}: usage {entry.label} (SKU {entry.sku}) has unitType "
                f"{entry.item.unit_type!r}, expected {expected.replace('_', '-')}"
            )

    def _add(self, limit: str, entry: _Dated, unit: str, amount: float) -> None:
        self._unit(entry, unit)
        if self.windows[limit].holds(entry.day):
            self.sums[limit] += amount

    def add(self, entry: _Dated) -> None:
        """Count one item towards the limit its SKU belongs to (or note why it counts nowhere)."""
        sku, quantity = entry.sku, entry.item.quantity
        codespaces = sku.startswith("codespaces_")
        if not codespaces and self._excluded(entry.item):
            self.ignored += 1
            return
        multiplier = self.options.minute_multipliers.get(sku)
        cores = codespaces_cores(sku)
        if multiplier is not None:
            self._add(ACTIONS_MINUTES, entry, "minutes", quantity * multiplier * 60.0)
        elif sku in self.options.storage_skus:
            self._add(SHARED_STORAGE, entry, "gigabyte_hours", quantity)
        elif sku == "packages_bandwidth":
            self._add(PACKAGES_BANDWIDTH, entry, "gigabytes", quantity * GIB)
        elif sku in _CODESPACES_STORAGE_SKUS:
            self._add(CODESPACES_STORAGE, entry, "gigabyte_hours", quantity)
        elif cores is not None:
            self._add(CODESPACES_CORE_HOURS, entry, "hours", quantity * cores * 3600.0)
        elif sku.startswith("codespaces_compute"):
            if self.windows[CODESPACES_CORE_HOURS].holds(entry.day):
                self.unknown_compute[sku] += quantity
        elif sku.startswith("actions_") and entry.unit == "minutes":
            if is_uncounted_runner_sku(sku):
                self.ignored += 1
            elif self.windows[ACTIONS_MINUTES].holds(entry.day):
                self.unknown_minutes[sku] += quantity
        else:
            self.ignored += 1

    def readings(self) -> list[Reading]:
        """One reading per limit; Codespaces compute is left out when a SKU has no core count."""
        values = {
            ACTIONS_MINUTES: self.sums[ACTIONS_MINUTES],
            SHARED_STORAGE: self.sums[SHARED_STORAGE] * GIB / self.windows[SHARED_STORAGE].hours,
            PACKAGES_BANDWIDTH: self.sums[PACKAGES_BANDWIDTH],
            CODESPACES_CORE_HOURS: self.sums[CODESPACES_CORE_HOURS],
            CODESPACES_STORAGE: (
                self.sums[CODESPACES_STORAGE] * GIB / self.windows[CODESPACES_STORAGE].hours
            ),
        }
        if self.unknown_minutes:
            log.warning(
                "%s: Actions minutes of unknown SKU(s) are not counted in %s: %s; list a SKU in "
                "minute_multipliers if included minutes pay for it",
                self.where,
                ACTIONS_MINUTES,
                ", ".join(f"{s} ({q:g} min)" for s, q in sorted(self.unknown_minutes.items())),
            )
        if self.unknown_compute:
            log.warning(
                "%s: %s not reported: Codespaces compute SKU(s) without a core count: %s",
                self.where,
                CODESPACES_CORE_HOURS,
                ", ".join(sorted(self.unknown_compute)),
            )
            del values[CODESPACES_CORE_HOURS]
        if self.ignored:
            log.debug("%s: %d usage item(s) count towards no limit", self.where, self.ignored)
        for limit, value in values.items():
            if value < 0:
                raise UnexpectedResponse(
                    f"{self.where}: {limit} sums to {value:g}, a negative usage"
                )
        return [Reading(limit, value) for limit, value in values.items()]


class GitHubCollector(CollectorBase):
    """GitHub Actions minutes, shared storage, Packages transfer and Codespaces usage."""

    name: ClassVar[str] = "github"
    Options: ClassVar[type[BaseModel]] = GitHubOptions

    options: GitHubOptions

    def __init__(
        self,
        options: GitHubOptions,
        client: httpx.AsyncClient,
        limits: Mapping[str, LimitSpec] | None = None,
    ) -> None:
        super().__init__(options, client, limits)
        self.api = GitHubClient(client, options)

    def declared_limits(self) -> dict[str, LimitSpec] | None:
        """limits.toml for a Free personal account; else its limits with the plan's caps."""
        return plan_limits(self.options, self.catalogue)

    def period_anchors(self) -> Mapping[str, int]:
        """Codespaces limits follow the billing cycle when `codespaces_anchor_day` is set."""
        day = self.options.codespaces_anchor_day
        if day is None:
            return {}
        return {name: day for name in self.catalogue if name.startswith("codespaces_")}

    async def probe(self) -> None:
        """Today's usage report: proves the token, its permission and the account name."""
        now = datetime.now(UTC)
        report = await self.api.usage(year=now.year, month=now.month, day=now.day, now=now)
        self._dated(report.usage_items, now.year, now.month)

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """One report per month the limits' periods cover (one, unless a cycle is anchored)."""
        windows = {limit: self._window(ctx, limit) for limit in LIMITS}

        def record(status: RateLimitStatus) -> None:
            ctx.report_rate_limit(status.remaining, status.limit, status.resets_at)

        tally = _Tally(self.options, windows, self.api.where)
        for year, month in _months(windows.values(), ctx.now):
            report = await self.api.usage(year=year, month=month, now=ctx.now, on_rate_limit=record)
            for entry in self._dated(report.usage_items, year, month):
                tally.add(entry)
        return tally.readings()

    @staticmethod
    def _window(ctx: CollectContext, limit: str) -> _Window:
        period = ctx.periods.get(limit)
        if period is None or period.start is None or period.end is None:
            return _calendar_month(ctx.now)
        return _Window(period.start, period.end)

    def _dated(self, items: list[UsageItem], year: int, month: int) -> list[_Dated]:
        """Items with parsed days; items outside the requested month are dropped, loudly."""
        dated: list[_Dated] = []
        outside = 0
        for index, item in enumerate(items):
            label = f"item {index} of {year}-{month:02d}"
            try:
                day = item_day(item.date)
            except ValueError:
                raise UnexpectedResponse(
                    f"{self.api.where}: usage {label} has date {item.date[:40]!r}, not a date"
                ) from None
            if (day.year, day.month) != (year, month):
                outside += 1
                continue
            sku = normalize_sku(item.product, item.sku)
            dated.append(_Dated(label, day, sku, normalize_unit(item.unit_type), item))
        if outside:
            log.warning(
                "%s: %d item(s) dated outside the requested month %d-%02d were ignored",
                self.api.where,
                outside,
                year,
                month,
            )
        return dated
