"""Upstash Developer API payloads (openapi.yml: Database, DatabaseStats, QStash*)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "Database",
    "DatabaseStats",
    "GoTime",
    "Point",
    "QStashStats",
    "QStashUser",
    "parse_go_time",
]

# Go's time.Time.String(): "2026-08-21 15:12:52.799480932 +0000 UTC", fraction optional, and a
# monotonic-clock suffix (" m=+0.000123") when the value came from time.Now().
_GO_TIME = re.compile(
    r"^(\d{4}-\d{2}-\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))? ([+-])(\d{2})(\d{2})"
    r"(?: [A-Za-z0-9+_/-]+)?(?: m=[+-][0-9.]+)?$"
)


def parse_go_time(text: str) -> datetime:
    """An aware UTC datetime from Go's time.Time.String() form (ISO 8601 also accepted)."""
    match = _GO_TIME.match(text.strip())
    if match is None:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("not a Go time (YYYY-MM-DD HH:MM:SS[.n] +hhmm ZONE)") from None
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    day, hour, minute, second, fraction, sign, off_h, off_m = match.groups()
    micro = int((fraction or "0").ljust(9, "0")[:6])
    local = datetime.fromisoformat(f"{day}T{hour}:{minute}:{second}").replace(microsecond=micro)
    offset = timedelta(hours=int(off_h), minutes=int(off_m)) * (1 if sign == "+" else -1)
    return (local - offset).replace(tzinfo=UTC)


def _go_time(value: Any) -> Any:
    return parse_go_time(value) if isinstance(value, str) else value


GoTime = Annotated[datetime, BeforeValidator(_go_time)]
Count = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Database(_Model):
    """One Redis database of `GET /v2/redis/databases` (the fields limits need)."""

    database_id: str
    database_name: str
    type: str | None = None
    database_type: str | None = None
    state: str | None = None
    db_disk_threshold: Count | None = None
    db_request_limit: Count | None = None

    @property
    def is_free(self) -> bool:
        """On the free plan: `type` "free" (spec), or a `database_type` naming Free.

        A recorded live answer had `type: "paid"` with `database_type: "Pay as You Go"`
        where the spec's enum says `payg`, so both fields are consulted.
        """
        if (self.type or "").casefold() == "free":
            return True
        return "free" in (self.database_type or "").casefold()


class DatabaseStats(_Model):
    """`GET /v2/redis/stats/{id}`: the month's and today's totals and the data size now."""

    daily_net_commands: Count
    total_monthly_requests: Count
    total_monthly_bandwidth: Count
    current_storage: Count


class QStashUser(_Model):
    """One QStash user (one per region) of `GET /v2/qstash/users`."""

    id: str
    type: str | None = None
    region: str | None = None
    max_requests_per_day: Count | None = None


class Point(_Model):
    """One point of a series: a Go-style time and a number."""

    x: GoTime
    y: Count


class QStashStats(_Model):
    """`GET /v2/qstash/stats/{id}`: one `daily_requests` point per day of the month."""

    daily_requests: list[Point]
