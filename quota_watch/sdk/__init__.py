"""Public contract for collectors: protocol, Reading, limit specs, periods, typed errors.

Collectors import from here; the submodules are the contract's parts (limits, errors,
the collector contract, HTTP helpers, and the HTTP kit `ProviderHttp` that every HTTP
collector's client is built on: bounded decompressed bodies, status and transport mapping,
one validation-message format, pagination helpers).
"""

from __future__ import annotations

from quota_watch.sdk.body import read_bounded
from quota_watch.sdk.client import (
    DEFAULT_MAX_BODY,
    Answer,
    ProviderHttp,
    Quirks,
    RateLimitReporter,
    display_url,
)
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
    header_number,
    http_date,
    plausible_wait,
    rate_limit_headers,
    read_body,
    reset_time,
    retry_after_seconds,
    wait_from_headers,
    wait_until_reset,
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
    anchored,
    display_factor,
    parse_duration,
    parse_quantity,
)
from quota_watch.sdk.options import ApiBase, check_api_base
from quota_watch.sdk.paging import cursor_pages, link_pages, numbered_pages
from quota_watch.sdk.parse import describe_problems, parse_adapter, parse_json, parse_model
from quota_watch.sdk.setvalues import (
    SET_VALUES_KEY,
    SetValue,
    set_values,
    with_set_value,
)

__all__ = [
    "DEFAULT_MAX_BODY",
    "SET_VALUES_KEY",
    "Answer",
    "ApiBase",
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
    "ProviderHttp",
    "ProviderUnavailable",
    "Quirks",
    "RateLimitReporter",
    "RateLimitStatus",
    "RateLimited",
    "Reading",
    "Scope",
    "SetValue",
    "UnexpectedResponse",
    "Unit",
    "anchored",
    "check_api_base",
    "cursor_pages",
    "describe_problems",
    "display_factor",
    "display_url",
    "header_number",
    "http_date",
    "link_pages",
    "numbered_pages",
    "parse_adapter",
    "parse_duration",
    "parse_json",
    "parse_model",
    "parse_quantity",
    "plausible_wait",
    "rate_limit_headers",
    "read_body",
    "read_bounded",
    "reset_time",
    "retry_after_seconds",
    "set_values",
    "wait_from_headers",
    "wait_until_reset",
    "with_set_value",
]
