"""Replay a recorded or synthetic series through the rules, poll by poll (`rules test FILE`).

A series file is TOML::

    description = "..."                  # optional
    [limit]
    name = "api_requests"                # optional: limit key (default "series")
    provider = "example"                 # optional labels: provider, account, group, resource
    unit = "count"                       # bytes | seconds | count
    measure = "cumulative"               # cumulative | level
    period = "calendar_month"            # or { kind = "billing_cycle", anchor_day = 5, tz = "..." }
    cap = "1M"                           # optional: a number in base units or a quantity
    [[rules]]                            # optional: overrides, exactly like the config's [[rules]]
    match = { limit = "api_requests" }
    warning = 0.7
    [[points]]                           # one poll each, strictly increasing ts
    ts = 2026-03-01T00:00:00Z
    value = 1234

or CSV with a header naming `ts` and `value` (ts in ISO 8601 with an offset, or Unix seconds),
the limit's metadata given as keyword arguments (`period` may be a dict with `kind`,
`anchor_day` and `tz`, as in TOML).
"""

from __future__ import annotations

import csv
import io
import math
import tomllib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from quota_watch.collect.periods import current_period
from quota_watch.config.errors import ConfigError, format_validation_error
from quota_watch.engine.evaluation import evaluate_account
from quota_watch.engine.points import Points
from quota_watch.engine.rulepack import RuleOverride, RulePack, effective_rules
from quota_watch.engine.signals import CALENDAR_PERIODS, SeriesView, Signal
from quota_watch.engine.state import Transition
from quota_watch.model import AlertState
from quota_watch.sdk import LimitSpec, Measure, PeriodKind, PeriodSpec, Unit

__all__ = [
    "ReplayResult",
    "ReplaySeries",
    "SeriesFileError",
    "forecast_lead",
    "forecast_leads",
    "load_series",
    "parse_series_csv",
    "parse_series_toml",
    "replay",
]


class SeriesFileError(ConfigError):
    """A series file that cannot be read or does not validate (one line per problem)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplaySeries:
    """One series to replay: its labels, limit definition, points and file-level overrides."""

    provider: str = "replay"
    account: str = "replay"
    group: str | None = None
    limit: str = "series"
    resource: str | None = None
    spec: LimitSpec
    points: tuple[tuple[datetime, float], ...]
    overrides: tuple[RuleOverride, ...] = ()
    description: str = ""


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What a replay produced: every transition in order, and how things stood at the end."""

    transitions: list[Transition]
    final_states: list[AlertState]
    final_forecast: Signal | None
    errors: list[str] = field(default_factory=list)


class _Limit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("series", min_length=1)
    provider: str = Field("replay", min_length=1)
    account: str = Field("replay", min_length=1)
    group: str | None = None
    resource: str | None = None
    unit: Unit
    measure: Measure
    period: PeriodSpec = PeriodSpec()
    cap: float | str | None = None


class _Point(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ts: datetime
    value: float

    @field_validator("ts")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("must have a UTC offset (e.g. 2026-03-01T00:00:00Z)")
        return value.astimezone(UTC)

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class _SeriesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = ""
    limit: _Limit
    rules: list[RuleOverride] = Field(default_factory=list)
    points: list[_Point] = Field(min_length=1)


def _build(
    limit: _Limit, points: Sequence[_Point], overrides: Sequence[RuleOverride], description: str
) -> ReplaySeries:
    try:
        spec = LimitSpec(
            title=limit.name,
            unit=limit.unit,
            measure=limit.measure,
            period=limit.period,
            cap=limit.cap,
        )
    except ValidationError as exc:
        raise SeriesFileError(format_validation_error(exc, ("limit",))) from None
    errors = [
        f"points[{i}].ts: {b.ts.isoformat()} is not after the previous point"
        for i, (a, b) in enumerate(pairwise(points), start=1)
        if b.ts <= a.ts
    ]
    if errors:
        raise SeriesFileError(errors)
    return ReplaySeries(
        provider=limit.provider,
        account=limit.account,
        group=limit.group,
        limit=limit.name,
        resource=limit.resource,
        spec=spec,
        points=tuple((p.ts, p.value) for p in points),
        overrides=tuple(overrides),
        description=description,
    )


def parse_series_toml(text: str, source: str = "<string>") -> ReplaySeries:
    """A series from TOML text ([limit], optional [[rules]], [[points]])."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SeriesFileError([f"{source}: invalid TOML: {exc}"]) from None
    try:
        parsed = _SeriesFile.model_validate(data)
    except ValidationError as exc:
        raise SeriesFileError([f"{source}: {e}" for e in format_validation_error(exc)]) from None
    try:
        return _build(parsed.limit, parsed.points, parsed.rules, parsed.description)
    except SeriesFileError as exc:
        raise SeriesFileError([f"{source}: {e}" for e in exc.errors]) from None


def _csv_ts(text: str) -> Any:
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        return text  # ISO 8601; validated (offset required) by _Point


def parse_series_csv(text: str, source: str = "<string>", **meta: Any) -> ReplaySeries:
    """A series from CSV text with a `ts,value` header; `meta` holds the [limit] keys
    (unit and measure required; name, provider, account, group, resource, period, cap)."""
    try:
        limit = _Limit.model_validate(meta)
    except ValidationError as exc:
        raise SeriesFileError([f"{source}: {e}" for e in format_validation_error(exc)]) from None
    reader = csv.DictReader(io.StringIO(text))
    fields = [name.strip() for name in reader.fieldnames or []]
    if "ts" not in fields or "value" not in fields:
        raise SeriesFileError([f"{source}: the header must name the columns ts and value"])
    reader.fieldnames = fields
    points: list[_Point] = []
    errors: list[str] = []
    for row in reader:
        line = reader.line_num
        try:
            points.append(
                _Point.model_validate(
                    {"ts": _csv_ts(row["ts"].strip()), "value": row["value"].strip()}
                )
            )
        except (ValidationError, AttributeError):
            errors.append(f"{source}:{line}: expected an aware ISO 8601 ts and a finite value")
    if errors:
        raise SeriesFileError(errors)
    if not points:
        raise SeriesFileError([f"{source}: no points"])
    try:
        return _build(limit, points, (), "")
    except SeriesFileError as exc:
        raise SeriesFileError([f"{source}: {e}" for e in exc.errors]) from None


def load_series(path: Path, **meta: Any) -> ReplaySeries:
    """Read a series file: `.csv` as CSV (metadata from `meta`), anything else as TOML."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SeriesFileError([f"{path}: cannot read: {exc.strerror}"]) from None
    if path.suffix.lower() == ".csv":
        return parse_series_csv(text, str(path), **meta)
    if meta:
        raise SeriesFileError([f"{path}: metadata arguments apply to CSV files only"])
    return parse_series_toml(text, str(path))


def replay(
    series: ReplaySeries,
    pack: RulePack | None = None,
    overrides: Sequence[RuleOverride] = (),
) -> ReplayResult:
    """Run `series` point by point through the rules: each point is one poll at its ts.

    Overrides: the file's [[rules]] first, then `overrides` (which win). Health rules (stale,
    auth) do not apply: a series has no poll outcomes.
    """
    pack = pack or RulePack()
    rules_list = (*series.overrides, *overrides)
    spec = series.spec
    lookback = effective_rules(
        pack,
        rules_list,
        provider=series.provider,
        account=series.account,
        limit=series.limit,
        group=series.group,
        unit=None,  # only the lookback is needed here: thresholds resolve per poll
        cap=None,
        resource=series.resource,
    ).forecast_lookback
    states: dict[str, AlertState] = {}
    transitions: list[Transition] = []
    errors: list[str] = []
    history: deque[tuple[datetime, float]] = deque()
    forecast: Signal | None = None
    # A daily cap keeps its earlier days (the within-day model compares the same hours).
    calendar = spec.period.kind in CALENDAR_PERIODS and spec.period.kind is not PeriodKind.DAILY
    for ts, value in series.points:
        period = current_period(spec.period, ts)
        history.append((ts, value))
        # Only what a poll would load: the lookback window, and (calendar) the current period.
        while history and (
            history[0][0] < ts - lookback
            or (calendar and period.start is not None and history[0][0] < period.start)
        ):
            history.popleft()
        view = SeriesView(
            provider=series.provider,
            account=series.account,
            group=series.group,
            limit=series.limit,
            resource=series.resource,
            unit=spec.unit.value,
            measure=spec.measure,
            period_kind=spec.period.kind,
            period=period,
            cap=spec.cap,
            points=Points.of(history),
            now=ts,
        )
        evaluation = evaluate_account(
            provider=series.provider,
            account=series.account,
            group=series.group,
            series=[view],
            health=None,
            prior=list(states.values()),
            pack=pack,
            overrides=rules_list,
            now=ts,
            series_complete=True,
        )
        for state in evaluation.states:
            states[state.fingerprint] = state
        for fingerprint in evaluation.deletions:
            states.pop(fingerprint, None)
        transitions.extend(evaluation.transitions)
        errors.extend(e for e in evaluation.errors if e not in errors)
        forecast = evaluation.forecasts.get((series.limit, series.resource))
    return ReplayResult(
        transitions=transitions,
        final_states=sorted(states.values(), key=lambda s: (s.kind, s.started_at)),
        final_forecast=forecast,
        errors=errors,
    )


def forecast_lead(transitions: Sequence[Transition]) -> timedelta | None:
    """How long before the threshold warning (QuotaAlmostFull) the forecast warning
    (QuotaPredictedFull) first fired, over the whole replay; None unless both fired.
    `forecast_leads` tells the periods apart."""
    firsts: dict[str, datetime] = {}
    for t in transitions:
        if t.kind in ("firing", "escalated"):
            firsts.setdefault(t.state.alertname, t.at)
    if "QuotaPredictedFull" in firsts and "QuotaAlmostFull" in firsts:
        return firsts["QuotaAlmostFull"] - firsts["QuotaPredictedFull"]
    return None


def forecast_leads(transitions: Sequence[Transition]) -> list[tuple[datetime | None, timedelta]]:
    """Per alert period (its start; None for levels), how long before the threshold warning
    (QuotaAlmostFull) the forecast warning first fired in that same period (negative: after
    it); periods where only one of them fired are left out."""
    firsts: dict[tuple[datetime | None, str], datetime] = {}
    for t in transitions:
        if t.kind in ("firing", "escalated"):
            firsts.setdefault((t.state.period_start, t.state.alertname), t.at)
    periods = dict.fromkeys(start for start, _ in firsts)
    leads = []
    for start in periods:
        forecast = firsts.get((start, "QuotaPredictedFull"))
        warning = firsts.get((start, "QuotaAlmostFull"))
        if forecast is not None and warning is not None:
            leads.append((start, warning - forecast))
    return leads
