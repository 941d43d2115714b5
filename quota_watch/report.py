"""Report rows from stored readings, and their rendering as a plain table or JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from quota_watch.store import AccountStatus, LatestReading, StoredReading

Status = Literal["ok", "warning", "critical", "stale", "unknown"]
WARNING_RATIO = 0.8  # until the rules engine replaces these fixed thresholds
CRITICAL_RATIO = 1.0
STATUS_ORDER: dict[str, int] = {"critical": 0, "warning": 1, "stale": 2, "unknown": 3, "ok": 4}


@dataclass(frozen=True)
class Row:
    """One (account, limit, resource): the JSON object of `collect` and `report` output."""

    provider: str
    account: str
    limit: str
    resource: str | None
    value: float
    cap: float | None
    cap_source: str
    unit: str
    utilization: float | None
    period_start: datetime | None
    period_end: datetime | None
    status: Status
    forecast_value: float | None
    forecast_utilization: float | None
    exhausts_at: datetime | None
    resets_at: datetime | None
    as_of: datetime


COLLECT_KEYS = (
    "provider",
    "account",
    "limit",
    "resource",
    "value",
    "cap",
    "cap_source",
    "unit",
    "utilization",
    "period_start",
    "period_end",
    "as_of",
)


def _utilization(value: float, cap: float | None) -> float | None:
    return value / cap if cap else None


def _status(utilization: float | None, stale: bool) -> Status:
    if stale:
        return "stale"
    if utilization is None:
        return "unknown"
    if utilization >= CRITICAL_RATIO:
        return "critical"
    if utilization >= WARNING_RATIO:
        return "warning"
    return "ok"


def make_row(reading: LatestReading | StoredReading, stale: bool = False) -> Row:
    """The row for one stored reading."""
    utilization = _utilization(reading.value, reading.cap)
    return Row(
        provider=reading.provider,
        account=reading.account,
        limit=reading.limit,
        resource=reading.resource,
        value=reading.value,
        cap=reading.cap,
        cap_source=reading.cap_source,
        unit=reading.unit,
        utilization=utilization,
        period_start=reading.period_start,
        period_end=reading.period_end,
        status=_status(utilization, stale),
        forecast_value=None,  # filled by the rules engine's forecasts
        forecast_utilization=None,
        exhausts_at=None,
        resets_at=reading.period_end if reading.measure == "cumulative" else None,
        as_of=reading.ts,
    )


def report_rows(
    readings: Iterable[LatestReading],
    statuses: Iterable[AccountStatus],
    intervals: Mapping[str, timedelta],
    now: datetime,
    stale_after_runs: int,
) -> list[Row]:
    """Rows for the configured accounts (`intervals` keys), riskiest first."""
    last_success = {s.account: s.last_success_at for s in statuses}
    rows = []
    for reading in readings:
        interval = intervals.get(reading.account)
        if interval is None:
            continue
        success = last_success.get(reading.account) or reading.ts
        stale = now - success > interval * stale_after_runs
        rows.append(make_row(reading, stale))
    return sort_rows(rows)


def sort_rows(rows: Iterable[Row]) -> list[Row]:
    """Riskiest first: by status, then by utilization, then by name."""
    return sorted(
        rows,
        key=lambda r: (
            STATUS_ORDER[r.status],
            -(r.utilization or 0.0),
            r.provider,
            r.account,
            r.limit,
            r.resource or "",
        ),
    )


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


def to_json(rows: Sequence[Row], keys: Sequence[str] | None = None) -> str:
    """A JSON array with one object per row (all keys, or only `keys`)."""
    objects = []
    for row in rows:
        data = asdict(row)
        if keys is not None:
            data = {k: data[k] for k in keys}
        objects.append({k: _json_value(v) for k, v in data.items()})
    return json.dumps(objects, indent=2)


_BYTE_STEPS = (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3))
_COUNT_STEPS = (("G", 1e9), ("M", 1e6), ("k", 1e3))


def human(value: float | None, unit: str) -> str:
    """A short human form: 12.3 GB, 4.5 h, 98.2k."""
    if value is None or math.isnan(value):
        return "-"
    if unit == "bytes":
        for suffix, size in _BYTE_STEPS:
            if abs(value) >= size:
                return f"{value / size:.3g} {suffix}"
        return f"{value:.0f} B"
    if unit == "seconds":
        for suffix, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
            if abs(value) >= size:
                return f"{value / size:.3g} {suffix}"
        return f"{value:.3g} s"
    for suffix, size in _COUNT_STEPS:
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:g}"


def _when(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "-"
    seconds = (moment - now).total_seconds()
    span = abs(seconds)
    for suffix, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if span >= size:
            text = f"{span / size:.0f}{suffix}"
            break
    else:
        text = f"{span:.0f}s"
    return f"in {text}" if seconds >= 0 else f"{text} ago"


def to_table(rows: Sequence[Row], now: datetime) -> str:
    """A plain-text table, one line per row."""
    header = ("STATUS", "PROVIDER", "ACCOUNT", "LIMIT", "RESOURCE", "USED", "CAP", "USE%", "RESETS")
    lines = [header]
    for r in rows:
        lines.append(
            (
                r.status,
                r.provider,
                r.account,
                r.limit,
                r.resource or "-",
                human(r.value, r.unit),
                human(r.cap, r.unit),
                "-" if r.utilization is None else f"{r.utilization:.1%}",
                _when(r.resets_at, now),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    right = {5, 6, 7}
    out = []
    for line in lines:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(line)
        ]
        out.append("  ".join(cells).rstrip())
    if not rows:
        out.append("(no readings yet: is the daemon running? try `quota-watch collect --once`)")
    return "\n".join(out)
