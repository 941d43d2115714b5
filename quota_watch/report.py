"""Report rows from stored readings, and their rendering as a plain table or JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from quota_watch.position import STATUS_ORDER, Status
from quota_watch.store import LatestReading, StoredReading

if TYPE_CHECKING:
    from quota_watch.engine.rulepack import RuleOverride, RulePack
    from quota_watch.engine.signals import Signal
    from quota_watch.poller import AccountRuntime
    from quota_watch.store.sqlite_reader import ReadStore


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


_SEVERITY_STATUS: dict[str, Status] = {"critical": "critical", "warning": "warning"}


def _status(utilization: float | None, severity: str | None, stale: bool) -> Status:
    if stale:
        return "stale"
    if severity in _SEVERITY_STATUS:
        return _SEVERITY_STATUS[severity]
    if utilization is None:
        return "unknown"
    return "ok"


def make_row(
    reading: LatestReading | StoredReading,
    *,
    stale: bool = False,
    severity: str | None = None,
    forecast: Signal | None = None,
) -> Row:
    """The row for one stored reading; `severity` from the rules, `forecast` from the engine."""
    utilization = _utilization(reading.value, reading.cap)
    if severity is None and utilization is not None:  # no engine verdict: the default pack's
        from quota_watch.engine.rulepack import RulePack

        pack = RulePack().threshold
        if utilization >= pack.critical:
            severity = "critical"
        elif utilization >= pack.warning:
            severity = "warning"
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
        status=_status(utilization, severity, stale),
        forecast_value=forecast.forecast_value if forecast else None,
        forecast_utilization=forecast.forecast_utilization if forecast else None,
        exhausts_at=forecast.exhausts_at if forecast else None,
        resets_at=reading.period_end if reading.measure == "cumulative" else None,
        as_of=reading.ts,
    )


async def gather_rows(
    store: ReadStore,
    runtimes: Mapping[str, AccountRuntime],
    pack: RulePack,
    overrides: Sequence[RuleOverride],
    now: datetime,
) -> list[Row]:
    """Rows for the accounts in `runtimes`: engine status (threshold now and firing alerts),
    forecasts from the stored samples, stale accounts marked; riskiest first."""
    from quota_watch.position import load_positions

    positions = await load_positions(store, runtimes, pack, overrides, now)
    return sort_rows(
        make_row(p.reading, stale=p.stale, severity=p.severity or "ok", forecast=p.forecast)
        for p in positions
    )


def sort_rows(rows: Iterable[Row]) -> list[Row]:
    """Riskiest first: by status, then by the higher of utilization and forecast utilization
    (a limit on course to fill up outranks a fuller one that is flat), then by name."""
    return sorted(
        rows,
        key=lambda r: (
            STATUS_ORDER[r.status],
            -max(r.utilization or 0.0, r.forecast_utilization or 0.0),
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
    return f"{value:.3g}" if value != int(value) else f"{value:g}"


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
    header = (
        "STATUS",
        "PROVIDER",
        "ACCOUNT",
        "LIMIT",
        "RESOURCE",
        "USED",
        "CAP",
        "USE%",
        "FORECAST",
        "FULL",
        "RESETS",
    )
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
                "-" if r.forecast_utilization is None else f"{r.forecast_utilization:.0%}",
                _when(r.exhausts_at, now),
                _when(r.resets_at, now),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    right = {5, 6, 7, 8}
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
