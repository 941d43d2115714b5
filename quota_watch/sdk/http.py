"""HTTP helpers every client uses: HTTP dates, Retry-After, rate-limit headers, bounded bodies."""

from __future__ import annotations

import email.utils
import math
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from quota_watch.sdk.body import read_bounded
from quota_watch.sdk.contract import RateLimitStatus

if TYPE_CHECKING:
    import httpx

MAX_WAIT_SECONDS = 366 * 86400.0
"""A wait longer than a year is not advice but a broken header: it is read as absent."""


def http_date(value: str | None) -> datetime | None:
    """An HTTP date (RFC 9110: Date, Retry-After) as aware UTC; None if unreadable."""
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    # HTTP dates are always GMT; a date without a zone is read as such.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def plausible_wait(seconds: float) -> float | None:
    """`seconds` as a wait (>= 0), or None when it is not finite or longer than a year."""
    if not math.isfinite(seconds) or seconds > MAX_WAIT_SECONDS:
        return None
    return max(0.0, seconds)


def retry_after_seconds(
    value: str | None, *, now: datetime, date: str | None = None
) -> float | None:
    """Seconds to wait from a Retry-After value: delay-seconds or an HTTP date, the latter
    measured from the response's own Date header when given (a skewed local clock does not
    matter), else from `now`. None when absent, unreadable, non-finite or over a year."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        when = http_date(text)
        if when is None:
            return None
        reference = http_date(date) or now
        return plausible_wait((when - reference).total_seconds())
    return plausible_wait(seconds)


def header_number(headers: httpx.Headers, name: str) -> float | None:
    """A header holding a finite number >= 0, else None."""
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def reset_time(value: str | None, now: datetime) -> datetime | None:
    """A rate-limit reset header as aware UTC: epoch milliseconds, epoch seconds, seconds from
    `now` (providers use all three), or an HTTP date; None when unreadable or absurd."""
    if value is None or not value.strip():
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return http_date(value)
    if not math.isfinite(number) or number < 0:
        return None
    try:
        if number >= 1e11:  # epoch milliseconds
            return datetime.fromtimestamp(number / 1000, UTC)
        if number >= 1e9:  # epoch seconds
            return datetime.fromtimestamp(number, UTC)
        wait = plausible_wait(number)
        return None if wait is None else now + timedelta(seconds=wait)
    except (OverflowError, OSError, ValueError):
        return None


def rate_limit_headers(headers: httpx.Headers, now: datetime) -> RateLimitStatus | None:
    """X-RateLimit-Remaining/-Limit/-Reset as a RateLimitStatus; None without a remaining."""
    remaining = header_number(headers, "x-ratelimit-remaining")
    if remaining is None:
        return None
    return RateLimitStatus(
        remaining,
        header_number(headers, "x-ratelimit-limit"),
        reset_time(headers.get("x-ratelimit-reset"), now),
    )


def wait_until_reset(headers: httpx.Headers, now: datetime) -> float | None:
    """Seconds to wait when the provider says when its rate-limit window resets, else None.

    A delta is taken as is; a moment is measured from the response's Date header, else `now`.
    """
    value = headers.get("x-ratelimit-reset")
    number = header_number(headers, "x-ratelimit-reset")
    if number is not None and number < 1e9:
        return plausible_wait(number)
    reset = reset_time(value, now)
    if reset is None:
        return None
    reference = http_date(headers.get("date")) or now
    return plausible_wait((reset - reference).total_seconds())


def wait_from_headers(headers: httpx.Headers, now: datetime) -> float | None:
    """Seconds to wait after a rate limit: Retry-After, else X-RateLimit-Reset; None if unsaid."""
    wait = retry_after_seconds(headers.get("retry-after"), now=now, date=headers.get("date"))
    return wait if wait is not None else wait_until_reset(headers, now)


async def read_body(response: httpx.Response, limit: int, where: str) -> bytes:
    """A streamed response's body, refusing (UnexpectedResponse) one larger than `limit` bytes
    once decompressed: the daemon lives on a 1 GB VM and a runaway payload (or a gzip bomb)
    must not take it down."""
    return await read_bounded(response, limit, where)
