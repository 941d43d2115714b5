"""Public contract for collectors: protocol, Reading, limit specs, periods, typed errors.

Collectors import from here; the submodules are the contract's parts (limits, errors,
the collector contract, HTTP helpers).
"""

from __future__ import annotations

from quota_watch.sdk.contract import (
    CollectContext,
    Collector,
    CollectorBase,
    RateLimitStatus,
    Reading,
)
from quota_watch.sdk.errors import (
    AuthError,
    CollectorError,
    NoData,
    ProviderUnavailable,
    RateLimited,
    UnexpectedResponse,
)
from quota_watch.sdk.http import (
    http_date,
    read_body,
    retry_after_seconds,
)
from quota_watch.sdk.limits import (
    Enforcement,
    LimitSpec,
    Measure,
    Period,
    PeriodKind,
    PeriodSpec,
    Scope,
    Unit,
    display_factor,
    parse_duration,
    parse_quantity,
)

__all__ = [
    "AuthError",
    "CollectContext",
    "Collector",
    "CollectorBase",
    "CollectorError",
    "Enforcement",
    "LimitSpec",
    "Measure",
    "NoData",
    "Period",
    "PeriodKind",
    "PeriodSpec",
    "ProviderUnavailable",
    "RateLimitStatus",
    "RateLimited",
    "Reading",
    "Scope",
    "UnexpectedResponse",
    "Unit",
    "display_factor",
    "http_date",
    "parse_duration",
    "parse_quantity",
    "read_body",
    "retry_after_seconds",
]
