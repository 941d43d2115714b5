"""HTTP helpers every client uses: HTTP dates, Retry-After, bounded body reads."""

from __future__ import annotations

import email.utils
import math
from datetime import UTC, datetime

import httpx

from quota_watch.sdk.errors import UnexpectedResponse


def http_date(value: str | None) -> datetime | None:
    """An HTTP date (RFC 9110: Date, Retry-After) as aware UTC; None if unreadable."""
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    # HTTP dates are always GMT; a date without a zone is read as such.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def retry_after_seconds(
    value: str | None, *, now: datetime, date: str | None = None
) -> float | None:
    """Seconds to wait from a Retry-After value: delay-seconds or an HTTP date, the latter
    measured from the response's own Date header when given (a skewed local clock does not
    matter), else from `now`. None when absent or unreadable."""
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
        return max(0.0, (when - reference).total_seconds())
    return max(0.0, seconds) if math.isfinite(seconds) else None


async def read_body(response: httpx.Response, limit: int, where: str) -> bytes:
    """A streamed response's body, refusing (UnexpectedResponse) one larger than `limit` bytes:
    the daemon lives on a 1 GB VM and a runaway payload must not take it down."""
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise UnexpectedResponse(f"{where}: response of {declared} bytes exceeds {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise UnexpectedResponse(f"{where}: response exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
