"""Report rows from stored readings, and their rendering as a plain table or JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from quota_watch.status.position import STATUS_ORDER, Status
from quota_watch.store.models import StoredReading
from quota_watch.units import iso_z

if TYPE_CHECKING:
    from quota_watch.collect.runtime import AccountRuntime
    from quota_watch.engine.rulepack import RuleOverride, RulePack
    from quota_watch.engine.signals import Signal
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
    period_zone: str | None = None  # IANA zone of the period's boundaries
    provider_forecast: float | None = None  # the provider's own value at period end
    display_unit: str | None = None  # how people read the unit (limits.toml); None: the base unit
    silenced: bool = False  # a silence matches the series
    # how much history the forecast rests on (points fitted), and why there is none yet
    forecast_points: int | None = None
    forecast_note: str | None = None


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
    reading: StoredReading,
    *,
    stale: bool = False,
    severity: str | None = None,
    forecast: Signal | None = None,
    display_unit: str | None = None,
    silenced: bool = False,
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
        period_zone=reading.period_zone,
        provider_forecast=reading.forecast,
        display_unit=display_unit,
        silenced=silenced,
        forecast_points=forecast.points_used if forecast else None,
        forecast_note=_forecast_note(forecast),
    )


_NOT_YET = ("too few points", "too short a history", "no earlier day to compare with yet")


def _forecast_note(forecast: Signal | None) -> str | None:
    """Why a series has no projection yet (too little history), else None."""
    if forecast is None:
        return None
    return next((note for note in forecast.notes if note in _NOT_YET), None)


async def gather_rows(
    store: ReadStore,
    runtimes: Mapping[str, AccountRuntime],
    pack: RulePack,
    overrides: Sequence[RuleOverride],
    now: datetime,
) -> list[Row]:
    """Rows for the accounts in `runtimes`: engine status (threshold now and firing alerts),
    forecasts from the stored samples, stale accounts marked; riskiest first."""
    from quota_watch.status.position import load_positions

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
        return iso_z(value)
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
