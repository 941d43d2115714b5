"""GitHub's billing vocabulary: SKU and unit normalisation, plan quotas, item dates."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

from quota_watch.sdk import Unit, parse_quantity

__all__ = [
    "ACTIONS_MINUTES",
    "CODESPACES_CORE_HOURS",
    "CODESPACES_STORAGE",
    "DEFAULT_MINUTE_MULTIPLIERS",
    "DEFAULT_STORAGE_SKUS",
    "GIB",
    "LIMITS",
    "PACKAGES_BANDWIDTH",
    "PLAN_QUOTAS",
    "SHARED_STORAGE",
    "Plan",
    "PlanQuota",
    "codespaces_cores",
    "is_uncounted_runner_sku",
    "item_day",
    "normalize_sku",
    "normalize_unit",
    "plan_quota",
]

ACTIONS_MINUTES = "actions_minutes"
SHARED_STORAGE = "shared_storage"
PACKAGES_BANDWIDTH = "packages_bandwidth"
CODESPACES_CORE_HOURS = "codespaces_core_hours"
CODESPACES_STORAGE = "codespaces_storage"
LIMITS = (
    ACTIONS_MINUTES,
    SHARED_STORAGE,
    PACKAGES_BANDWIDTH,
    CODESPACES_CORE_HOURS,
    CODESPACES_STORAGE,
)

# GitHub measures storage in binary gigabytes ("1 GB = 2^30 bytes", billing/concepts/
# product-billing/github-actions.md); quantities and caps share the factor, so ratios are exact.
GIB = float(2**30)

Plan = Literal["free", "pro", "team", "enterprise"]
PERSONAL_PLANS: frozenset[str] = frozenset({"free", "pro"})
ORG_PLANS: frozenset[str] = frozenset({"free", "team", "enterprise"})

# Standard GitHub-hosted runners, the only ones included minutes pay for, with the OS minute
# multipliers of billing/reference/actions-minute-multipliers.md (Linux 1, Windows 2, macOS 10).
# SKU ids from billing/reference/product-and-sku-names.md and the standard-runner price table.
DEFAULT_MINUTE_MULTIPLIERS: dict[str, float] = {
    "actions_linux": 1.0,
    "actions_linux_slim": 1.0,
    "actions_linux_arm": 1.0,
    "actions_windows": 2.0,
    "actions_windows_arm": 2.0,
    "actions_macos": 10.0,
}
# Artifacts and packages share one pooled allowance (github-packages.md, github-actions.md).
DEFAULT_STORAGE_SKUS: tuple[str, ...] = ("actions_storage", "packages_storage")

# Display names of the docs' examples that do not normalise to the SKU id.
_SKU_ALIASES = {"packages_data_transfer": "packages_bandwidth"}
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_UNCOUNTED_RUNNER = re.compile(
    r"^actions_(?:self_hosted_.+|beta_.+|(?:linux|windows|macos)_(?:\d+_core.*|a\d+_.+|l|xl|large|xlarge))$"
)
_CODESPACES_COMPUTE = re.compile(r"^codespaces_compute_d?(\d+)(?:_core)?$")

_UNITS = {
    "minutes": "minutes",
    "minute": "minutes",
    "min": "minutes",
    "gigabytehours": "gigabyte_hours",
    "gigabytehour": "gigabyte_hours",
    "gbhours": "gigabyte_hours",
    "gbhour": "gigabyte_hours",
    "gigabytes": "gigabytes",
    "gigabyte": "gigabytes",
    "gb": "gigabytes",
    "hours": "hours",
    "hour": "hours",
}


def _snake(text: str) -> str:
    return _NON_ALNUM.sub("_", text.lower()).strip("_")


def normalize_sku(product: str, sku: str) -> str:
    """The SKU id for an item: "Actions Linux" and "actions_linux" both give "actions_linux".

    The REST reference's examples use display names ("Actions Linux", "Packages storage") while
    the SKU reference lists ids ("actions_linux", "packages_storage"): lowercase, separators to
    "_", a trailing "_runners" dropped, the product prefixed when missing, known aliases mapped.
    """
    name = _snake(sku)
    prefix = _snake(product)
    name = name.removesuffix("_runners")
    if prefix and name != prefix and not name.startswith(prefix + "_"):
        name = f"{prefix}_{name}"
    return _SKU_ALIASES.get(name, name)


def normalize_unit(unit: str) -> str:
    """The unit as "minutes", "gigabyte_hours", "gigabytes" or "hours"; others snake_cased."""
    key = _NON_ALNUM.sub("", unit.lower())
    return _UNITS.get(key, _snake(unit))


def is_uncounted_runner_sku(sku: str) -> bool:
    """Larger, self-hosted and beta runner SKUs: known, and never paid for by included minutes."""
    return _UNCOUNTED_RUNNER.match(sku) is not None


def codespaces_cores(sku: str) -> int | None:
    """Cores of a Codespaces compute SKU ("codespaces_compute_d4" -> 4); None for other SKUs."""
    match = _CODESPACES_COMPUTE.match(sku)
    return None if match is None else int(match.group(1))


def item_day(text: str) -> date:
    """The UTC day of an item's `date`: "2026-11-03" or an ISO datetime like "2026-11-03T00:00:00Z".

    Raises ValueError for anything else.
    """
    if len(text) == 10:
        return date.fromisoformat(text)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(UTC).date()


@dataclass(frozen=True, slots=True)
class PlanQuota:
    """What one plan includes per month, in base units; None where it includes nothing."""

    actions_minutes: float
    shared_storage: float
    packages_bandwidth: float
    codespaces_core_hours: float | None
    codespaces_storage: float | None

    def cap(self, limit: str) -> float | None:
        """The included amount of `limit` (seconds or bytes)."""
        value: float | None = getattr(self, limit)
        return value

    @classmethod
    def of(
        cls, minutes: str, storage: str, bandwidth: str, codespaces: tuple[str, str] | None
    ) -> PlanQuota:
        """Build from quantity strings ("2000 min", "500 MiB", ...)."""
        return cls(
            parse_quantity(minutes, Unit.SECONDS),
            parse_quantity(storage, Unit.BYTES),
            parse_quantity(bandwidth, Unit.BYTES),
            None if codespaces is None else parse_quantity(codespaces[0], Unit.SECONDS),
            None if codespaces is None else parse_quantity(codespaces[1], Unit.BYTES),
        )


# billing/reference/product-usage-included.md. Pro lists 1 GB of Actions storage and 2 GB of
# Packages storage for one shared pool: the lower figure is used. Codespaces quotas exist only
# for personal accounts.
PLAN_QUOTAS: dict[tuple[str, bool], PlanQuota] = {
    ("free", True): PlanQuota.of("2000 min", "500 MiB", "1 GiB", ("120 h", "15 GiB")),
    ("pro", True): PlanQuota.of("3000 min", "1 GiB", "10 GiB", ("180 h", "20 GiB")),
    ("free", False): PlanQuota.of("2000 min", "500 MiB", "1 GiB", None),
    ("team", False): PlanQuota.of("3000 min", "2 GiB", "10 GiB", None),
    ("enterprise", False): PlanQuota.of("50000 min", "50 GiB", "100 GiB", None),
}


def plan_quota(plan: str, personal: bool) -> PlanQuota:
    """The quota of `plan` for a personal account (True) or an organization (False)."""
    try:
        return PLAN_QUOTAS[(plan, personal)]
    except KeyError:
        kind = "a personal account" if personal else "an organization"
        raise ValueError(f"plan {plan!r} does not exist for {kind}") from None
