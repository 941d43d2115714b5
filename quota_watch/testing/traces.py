"""Seeded, realistic usage traces with a known truth, for replay tests and the alert bench.

Each `Trace` is a series as a collector would report it (`observed`: read noise, revisions,
resets, zero glitches, missed polls) beside the usage that really happened (`truth`), so a
replay can be scored: when the cap was really reached, which readings were bad. Shapes follow
the providers in docs/: GitHub Actions minutes on weekday CI, Netlify bandwidth on a Los
Angeles billing cycle, Cloudflare Workers/KV daily caps with diurnal curves and a 14:00 spike,
Supabase database sizes (linear, daily-partition sawtooth, flat, jittery).

`standard_traces(seed)` is the bench set; the `*_trace` functions build one trace each.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from quota_watch.collect.periods import current_period
from quota_watch.engine.replay import ReplaySeries
from quota_watch.sdk import LimitSpec, Measure, PeriodSpec, Unit

__all__ = [
    "Faults",
    "Trace",
    "daily_cap_trace",
    "level_trace",
    "monthly_cap_trace",
    "sawtooth",
    "standard_traces",
]

_START = datetime(2026, 3, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Trace:
    """One replayable series with its truth: `truth[i]` is the real usage at poll i."""

    name: str
    category: str  # monthly | daily | level
    series: ReplaySeries
    truth: tuple[float, ...]
    bad: frozenset[int]  # indexes of readings that are wrong (zero glitch, stray value)

    @property
    def cap(self) -> float:
        """The limit's cap."""
        assert self.series.spec.cap is not None
        return self.series.spec.cap

    def periods(self) -> list[tuple[datetime | None, list[int]]]:
        """The poll indexes grouped by period (period start; None: one period, a level)."""
        spec = self.series.spec.period
        groups: dict[datetime | None, list[int]] = {}
        for index, (ts, _) in enumerate(self.series.points):
            start = current_period(spec, ts).start if self.category != "level" else None
            groups.setdefault(start, []).append(index)
        return list(groups.items())

    def cap_reached_at(self, indexes: Sequence[int]) -> datetime | None:
        """When the real usage first reached the cap among the polls `indexes`."""
        for index in indexes:
            if self.truth[index] >= self.cap:
                return self.series.points[index][0]
        return None


def _series(
    name: str,
    unit: Unit,
    measure: Measure,
    period: PeriodSpec,
    cap: float,
    points: list[tuple[datetime, float]],
) -> ReplaySeries:
    spec = LimitSpec(title=name, unit=unit, measure=measure, period=period, cap=cap)
    return ReplaySeries(provider="trace", account=name, limit=name, spec=spec, points=tuple(points))


def _polls(start: datetime, days: float, every: timedelta) -> list[datetime]:
    count = int(timedelta(days=days) / every)
    return [start + every * i for i in range(count)]


def _diurnal(hour: float, peak: float) -> float:
    """A day's activity shape: low at night, a broad peak at `peak` o'clock (mean ~1)."""
    return 0.25 + 1.5 * math.exp(-(((hour - peak) / 3.5) ** 2))


def _cumulative(
    times: Sequence[datetime],
    period: PeriodSpec,
    rate: Callable[[datetime], float],
) -> list[float]:
    """Integrate `rate` (per hour) poll by poll, restarting at every period start."""
    values: list[float] = []
    total = 0.0
    previous: datetime | None = None
    for ts in times:
        if previous is not None and current_period(period, ts) != current_period(period, previous):
            total = 0.0
            previous = current_period(period, ts).start
        if previous is not None:
            total += rate(ts) * (ts - previous).total_seconds() / 3600
        values.append(total)
        previous = ts
    return values


@dataclass(frozen=True, slots=True)
class Faults:
    """What goes wrong in the reports of a trace."""

    noise: float = 0.0  # relative read noise of a level
    zero_glitches: int = 0  # single readings of 0
    missed_polls: float = 0.0  # share of polls dropped (in runs)
    revise_down: float = 0.0  # provisional share a cumulative reading loses in the night
    reset_day: int | None = None  # the day of the period on which the counter restarts


_NO_FAULTS = Faults()


def _observe(
    rng: random.Random,
    times: list[datetime],
    truth: list[float],
    faults: Faults,
    cumulative: bool,
) -> tuple[list[tuple[datetime, float]], list[float], frozenset[int]]:
    """(observed points, truth at those polls, bad indexes) of a true series under `faults`."""
    observed = list(truth)
    if faults.revise_down:
        # Provisional figures run ahead during the day and are revised down each night.
        for i, ts in enumerate(times):
            observed[i] *= 1 + faults.revise_down * (ts.hour / 24)
    if faults.noise:
        observed = [v * (1 + rng.uniform(-faults.noise, faults.noise)) for v in observed]
    if not cumulative:
        observed = [max(v, 0.0) for v in observed]
    keep = [True] * len(times)
    i = 0
    while faults.missed_polls and i < len(times):
        if rng.random() < faults.missed_polls / 6:
            for j in range(i, min(i + 6, len(times))):
                keep[j] = False
            i += 6
        i += 1
    bad: set[int] = set()
    candidates = [i for i in range(len(times)) if keep[i] and truth[i] > 0]
    for index in rng.sample(candidates, min(faults.zero_glitches, len(candidates))):
        observed[index] = 0.0
        bad.add(index)
    points: list[tuple[datetime, float]] = []
    kept_truth: list[float] = []
    kept_bad: set[int] = set()
    for i, ts in enumerate(times):
        if keep[i] or i == 0:
            if i in bad:
                kept_bad.add(len(points))
            points.append((ts, round(observed[i], 3)))
            kept_truth.append(truth[i])
    return points, kept_truth, frozenset(kept_bad)


def monthly_cap_trace(
    name: str,
    seed: int,
    *,
    total: float,
    cap: float = 2000.0,
    unit: Unit = Unit.SECONDS,
    weekday_ci: bool = True,
    surge: tuple[int, float] | None = None,
    period: PeriodSpec | None = None,
    faults: Faults = _NO_FAULTS,
    every: timedelta = timedelta(minutes=30),
) -> Trace:
    """A calendar month of cumulative usage ending near `total` x cap: weekday CI (work hours,
    quiet weekends) or steady traffic, optionally a surge (from day, rate factor)."""
    rng = random.Random(seed)
    period = period or PeriodSpec(kind="calendar_month")
    start = current_period(period, _START + timedelta(days=2)).start
    assert start is not None
    times = _polls(start, 31 + 2, every)
    days_jitter = [rng.uniform(0.6, 1.4) for _ in range(40)]

    def shape(ts: datetime) -> float:
        day = (ts - start).days
        weight = days_jitter[day % 40] * _diurnal(ts.hour + ts.minute / 60, 14)
        if weekday_ci:
            weight *= 0.15 if ts.weekday() >= 5 else 1.35
        return weight

    def rate(ts: datetime) -> float:
        runaway = surge is not None and (ts - start).days >= surge[0]
        return scale * shape(ts) * (surge[1] if surge is not None and runaway else 1.0)

    mean = sum(shape(start + timedelta(hours=h)) for h in range(24 * 30)) / (24 * 30)
    scale = total * cap / (30 * 24 * mean)  # `total` is the pace without the surge
    truth = _cumulative(times, period, rate)
    if faults.reset_day is not None:
        reset_at = start + timedelta(days=faults.reset_day)
        base = next(v for ts, v in zip(times, truth, strict=True) if ts >= reset_at)
        truth = [
            v - base if reset_at <= ts < start + timedelta(days=31) else v
            for ts, v in zip(times, truth, strict=True)
        ]
        truth = [max(v, 0.0) for v in truth]
    points, kept, bad = _observe(rng, times, truth, faults, cumulative=True)
    return Trace(
        name,
        "monthly",
        _series(name, unit, Measure.CUMULATIVE, period, cap, points),
        tuple(kept),
        bad,
    )


def daily_cap_trace(
    name: str,
    seed: int,
    *,
    totals: Sequence[float],
    cap: float = 100_000.0,
    peak: float = 15.0,
    spike: tuple[float, float] | None = None,
    faults: Faults = _NO_FAULTS,
    every: timedelta = timedelta(minutes=5),
) -> Trace:
    """len(totals) days of a daily cap (UTC days) with a diurnal curve peaking at `peak`
    o'clock; day d uses totals[d] x cap; spike = (hour, share of the cap) arriving in an hour."""
    rng = random.Random(seed)
    period = PeriodSpec(kind="daily")
    times = _polls(_START, len(totals), every)
    norm = sum(_diurnal(h / 10, peak) for h in range(240)) / 240
    wobble = [rng.uniform(0.85, 1.15) for _ in range(len(totals) * 24)]

    def rate(ts: datetime) -> float:
        day = (ts - _START).days
        hour = ts.hour + ts.minute / 60
        base = totals[day] * cap / 24 * _diurnal(hour, peak) / norm * wobble[day * 24 + ts.hour]
        if spike is not None and spike[0] <= hour < spike[0] + 1:
            base += spike[1] * cap  # per hour, for an hour
        return base

    truth = _cumulative(times, period, rate)
    points, kept, bad = _observe(rng, times, truth, faults, cumulative=True)
    return Trace(
        name,
        "daily",
        _series(name, Unit.COUNT, Measure.CUMULATIVE, period, cap, points),
        tuple(kept),
        bad,
    )


def level_trace(
    name: str,
    seed: int,
    *,
    days: int,
    value: Callable[[float], float],
    cap: float = 500e6,
    faults: Faults = _NO_FAULTS,
    every: timedelta = timedelta(minutes=15),
) -> Trace:
    """A level (a database size) over `days`: value(t) as a share of the cap, t in days."""
    rng = random.Random(seed)
    times = _polls(_START, days, every)
    truth = [value((ts - _START).total_seconds() / 86400) * cap for ts in times]
    points, kept, bad = _observe(rng, times, truth, faults, cumulative=False)
    return Trace(
        name,
        "level",
        _series(name, Unit.BYTES, Measure.LEVEL, PeriodSpec(), cap, points),
        tuple(kept),
        bad,
    )


def sawtooth(t: float) -> float:
    """A database of daily partitions: 60 % -> 88 % of the cap each day (t in days)."""
    return 0.6 + 0.28 * (t % 1)  # partitions fill during the day, the oldest dropped nightly


def standard_traces(seed: int = 12) -> list[Trace]:
    """The bench set: 24 traces (10 monthly or cycle caps, 8 daily caps, 6 levels)."""
    rng = random.Random(seed)

    def s() -> int:
        return rng.randrange(1 << 30)

    lax = PeriodSpec(kind="billing_cycle", anchor_day=17, tz="America/Los_Angeles")
    daily = [rng.uniform(0.55, 1.3) for _ in range(7)]
    return [
        monthly_cap_trace("gha-weekday-ci", s(), total=1.2),
        monthly_cap_trace("gha-light-month", s(), total=0.7),
        monthly_cap_trace("gha-runaway", s(), total=0.5, surge=(12, 5.0)),
        monthly_cap_trace(
            "netlify-cycle-la",
            s(),
            total=1.3,
            cap=100e9,
            unit=Unit.BYTES,
            period=lax,
            weekday_ci=False,
        ),
        monthly_cap_trace(
            "netlify-launch-week",
            s(),
            total=0.4,
            cap=100e9,
            unit=Unit.BYTES,
            weekday_ci=False,
            surge=(18, 6.0),
        ),
        monthly_cap_trace("gha-revised-nightly", s(), total=1.1, faults=Faults(revise_down=0.1)),
        monthly_cap_trace("gha-counter-reset", s(), total=1.6, faults=Faults(reset_day=14)),
        monthly_cap_trace("gha-zero-glitches", s(), total=1.15, faults=Faults(zero_glitches=4)),
        monthly_cap_trace("gha-missed-polls", s(), total=1.25, faults=Faults(missed_polls=0.1)),
        monthly_cap_trace("gha-quiet-85", s(), total=0.85, weekday_ci=False),
        daily_cap_trace("workers-diurnal", s(), totals=daily),
        daily_cap_trace("workers-busy", s(), totals=[1.1, 1.25, 0.9, 1.3, 1.05, 0.75, 1.2]),
        daily_cap_trace("workers-quiet", s(), totals=[0.6, 0.7, 0.75, 0.65, 0.72, 0.5, 0.68]),
        daily_cap_trace("workers-spike-1400", s(), totals=[0.5] * 4, spike=(14.0, 0.7)),
        daily_cap_trace("kv-writes-early-peak", s(), totals=daily[::-1], peak=10.0, cap=1000.0),
        daily_cap_trace(
            "workers-zero-glitches",
            s(),
            totals=[1.2, 1.1, 1.3, 0.8],
            faults=Faults(zero_glitches=6),
        ),
        daily_cap_trace(
            "workers-missed-polls",
            s(),
            totals=[1.15, 0.85, 1.25, 1.1],
            faults=Faults(missed_polls=0.08),
        ),
        daily_cap_trace(
            "workers-revised", s(), totals=[0.95, 1.2, 0.9, 1.15], faults=Faults(revise_down=0.08)
        ),
        level_trace("db-linear", s(), days=14, value=lambda t: 0.5 + 0.045 * t),
        level_trace("db-sawtooth", s(), days=14, value=sawtooth),
        level_trace("db-flat-85", s(), days=5, value=lambda t: 0.85, faults=Faults(noise=0.002)),
        level_trace("db-jitter-80", s(), days=3, value=lambda t: 0.8, faults=Faults(noise=0.1)),
        level_trace(
            "db-linear-glitch",
            s(),
            days=10,
            value=lambda t: 0.7 + 0.04 * t,
            faults=Faults(zero_glitches=3),
        ),
        level_trace("db-slow-growth", s(), days=10, value=lambda t: 0.55 + 0.01 * t),
    ]
