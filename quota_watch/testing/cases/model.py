"""The case format's types: a loaded case, its expectations, a run's result, their errors."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from quota_watch import sdk
from quota_watch.sdk import CollectorError, LimitSpec, Reading
from quota_watch.testing.router import RecordedRequest, Route, UnmatchedRequest

__all__ = [
    "ANY_VALUE",
    "CASE_DIR_TOKEN",
    "CASE_FILE",
    "ERROR_CLASSES",
    "Case",
    "CaseFailed",
    "CaseFormatError",
    "CaseResult",
    "Expectation",
    "ExpectedReading",
    "key_text",
]

CASE_FILE = "case.toml"
ANY_VALUE: Literal["*"] = "*"
CASE_DIR_TOKEN = "{case_dir}"
ERROR_CLASSES: dict[str, type[CollectorError]] = {
    cls.__name__: cls
    for cls in (
        sdk.CollectorError,
        sdk.AuthError,
        sdk.RateLimited,
        sdk.ProviderUnavailable,
        sdk.UnexpectedResponse,
        sdk.NoData,
    )
}


def key_text(key: tuple[str, str | None]) -> str:
    """A reading's (limit, resource) key as text for messages."""
    limit, resource = key
    return f"limit={limit!r}" + ("" if resource is None else f" resource={resource!r}")


class CaseFormatError(ValueError):
    """A case folder or case.toml does not follow the case format."""


class CaseFailed(AssertionError):
    """A case ran, and the collector's outcome differs from `[expect]`."""


@dataclass(frozen=True)
class ExpectedReading:
    """One expected reading; `value` "*" accepts any finite value."""

    limit: str
    value: float | Literal["*"]
    resource: str | None = None
    cap: float | Literal["*"] | None = None  # None: the reading must carry no cap
    period_start: datetime | None = None  # None: not checked
    period_end: datetime | None = None  # None: not checked
    period_zone: str | None = None  # None: not checked
    forecast: float | Literal["*"] | None = None  # None: the reading must carry no forecast

    def describe(self) -> str:
        """Short text naming the reading's key and expected values."""
        text = f"{key_text((self.limit, self.resource))} value={self.value!r} cap={self.cap!r}"
        if self.period_start is not None:
            text += f" period_start={self.period_start.isoformat()}"
        if self.period_end is not None:
            text += f" period_end={self.period_end.isoformat()}"
        if self.period_zone is not None:
            text += f" period_zone={self.period_zone}"
        if self.forecast is not None:
            text += f" forecast={self.forecast!r}"
        return text


@dataclass(frozen=True)
class Expectation:
    """The `[expect]` table: either an error class name or the exact readings."""

    error: str | None = None
    error_retry_after: float | None = None
    readings: tuple[ExpectedReading, ...] | None = None
    state: dict[str, Any] | None = None


@dataclass(frozen=True)
class Case:
    """A loaded case folder."""

    name: str
    path: Path
    description: str
    source: str
    now: datetime
    options: dict[str, Any] = field(repr=False)  # may hold (fake) secrets
    state: dict[str, Any]
    routes: tuple[Route, ...]
    expect: Expectation


@dataclass
class CaseResult:
    """What happened when a case ran (before or after `check_case`)."""

    case: Case
    options: BaseModel
    limits: dict[str, LimitSpec]  # the limits periods were computed for
    declared: bool  # True: `limits` came from collector.declared_limits(), not limits.toml
    readings: list[Reading] | None
    error: Exception | None
    state: dict[str, Any]
    requests: list[RecordedRequest]
    unmatched: list[UnmatchedRequest]
    log_records: list[logging.LogRecord] = field(repr=False)
