"""The typed errors a collector raises, one subclass per outcome.

CollectorError              "error": anything else (a bug, a missing extra)
├── AuthError               "auth": polling of the account stops, one alert asks for action
├── RateLimited             "rate_limited": retried no sooner than retry_after
├── ProviderUnavailable     "unavailable": retried with backoff; never reported as 0
├── UnexpectedResponse      "unexpected": the payload drifted; loud
└── NoData                  "no_data": the provider answered with nothing yet; not a failure
"""

from __future__ import annotations

from typing import ClassVar


class CollectorError(Exception):
    """Base of the typed errors a collector raises; messages must never contain secrets."""

    outcome: ClassVar[str] = "error"
    status: int | None = None  # the HTTP status it was read from, set by ProviderHttp


class AuthError(CollectorError):
    """Credentials rejected or missing a permission: polling of the account stops until fixed."""

    outcome = "auth"


class RateLimited(CollectorError):
    """The provider asked us to slow down; retry after `retry_after` seconds when it said so."""

    outcome = "rate_limited"

    def __init__(self, message: str = "rate limited", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProviderUnavailable(CollectorError):
    """Transient failure (5xx, timeout, connection error): retried with backoff."""

    outcome = "unavailable"


class UnexpectedResponse(CollectorError):
    """The payload did not have the shape we know (drift, or an error under HTTP 200): loud."""

    outcome = "unexpected"


class NoData(CollectorError):
    """The provider has nothing to report yet; not a failure, and never read as zero."""

    outcome = "no_data"
