"""Issue #12's scenarios replayed through the rules (the `rules test` path) on seeded traces:
lead time before the cap and how many messages a limit sends."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from quota_watch.engine.replay import ReplayResult, replay
from quota_watch.engine.state import Transition
from quota_watch.testing.traces import (
    Faults,
    Trace,
    daily_cap_trace,
    level_trace,
    monthly_cap_trace,
    sawtooth,
)

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# Monthly traces are polled hourly here (the bench polls every 30 min): the same shapes in
# half the replay time.


def fire_resolve(transitions: Sequence[Transition]) -> list[Transition]:
    """The transitions that are not reminders: firing, escalated, resolved, period_reset."""
    return [t for t in transitions if t.kind != "reminder"]


def first(transitions: Sequence[Transition], alertname: str) -> Transition:
    return next(t for t in transitions if t.kind == "firing" and t.state.alertname == alertname)


def run(trace: Trace) -> ReplayResult:
    return replay(trace.series)


def cap_reached(trace: Trace) -> list[datetime | None]:
    return [trace.cap_reached_at(indexes) for _, indexes in trace.periods()]


def test_weekday_ci_month_warns_days_ahead_with_few_messages() -> None:
    trace = monthly_cap_trace("gha-ci", 7, total=1.2, every=HOUR)
    result = run(trace)
    reached = cap_reached(trace)[0]
    assert reached is not None
    forecast = first(result.transitions, "QuotaPredictedFull")
    assert reached - forecast.at >= 3 * DAY
    # forecast, warning, critical, reset (a quiet weekend may resolve and re-fire it once)
    assert len(fire_resolve(result.transitions)) <= 6
    assert sum(t.kind == "period_reset" for t in result.transitions) == 1


def test_linear_growth_of_a_level_warns_days_before_full() -> None:
    trace = level_trace("db", 8, days=14, value=lambda t: 0.5 + 0.045 * t)
    result = run(trace)
    (reached,) = cap_reached(trace)
    assert reached is not None
    forecast = first(result.transitions, "QuotaPredictedFull")
    assert reached - forecast.at >= 5 * DAY
    assert [(t.kind, t.state.alertname) for t in fire_resolve(result.transitions)] == [
        ("firing", "QuotaPredictedFull"),
        ("firing", "QuotaAlmostFull"),
        ("escalated", "QuotaFullyUsed"),
    ]


def test_sawtooth_database_does_not_flap_daily() -> None:
    # daily partitions: 60 % -> 88 % each day, the oldest dropped at midnight, for 14 days
    trace = level_trace("db-sawtooth", 1, days=14, value=sawtooth)
    result = run(trace)
    messages = fire_resolve(result.transitions)
    assert len(messages) <= 6  # today's engine: 27 forecast transitions alone
    # once the swing is known, the warning holds through the nightly drops
    last_fire = max(t.at for t in messages)
    assert last_fire < trace.series.points[0][0] + 3 * DAY
    assert result.final_states[-1].status == "firing"


def test_jitter_around_80_percent_fires_once() -> None:
    trace = level_trace("db-jitter", 5, days=3, value=lambda t: 0.8, faults=Faults(noise=0.1))
    result = run(trace)
    assert [(t.kind, t.state.alertname) for t in fire_resolve(result.transitions)] == [
        ("firing", "QuotaAlmostFull")
    ]


def test_downward_revisions_neither_flap_nor_project_from_the_old_level() -> None:
    trace = monthly_cap_trace(
        "gha-revised", 2, total=1.1, faults=Faults(revise_down=0.1), every=HOUR
    )
    result = run(trace)
    reached = cap_reached(trace)[0]
    assert reached is not None
    forecast = first(result.transitions, "QuotaPredictedFull")
    assert reached - forecast.at >= 3 * DAY
    forecasts = [t for t in result.transitions if t.state.alertname == "QuotaPredictedFull"]
    assert sum(t.kind == "firing" for t in forecasts) == 1
    assert len(fire_resolve(result.transitions)) <= 6


def test_counter_reset_resolves_the_forecast_with_current_figures() -> None:
    trace = monthly_cap_trace("gha-reset", 3, total=1.6, faults=Faults(reset_day=14), every=HOUR)
    result = run(trace)
    forecast = first(result.transitions, "QuotaPredictedFull")
    resolved = next(
        t
        for t in result.transitions
        if t.kind == "resolved" and t.state.alertname == "QuotaPredictedFull"
    )
    assert forecast.at < resolved.at
    reset_at = trace.series.points[0][0] + 14 * DAY
    # resolved from the new level (never "projected 201 %" with the value at 0 %) as soon as
    # the fall is confirmed (the next poll) and held through one more (for_runs)
    assert reset_at <= resolved.at <= reset_at + 2 * HOUR
    assert resolved.state.value < 0.05 * trace.cap
    # the restarted fit has too little history for a projection yet: none is shown
    assert resolved.state.forecast_value is None or resolved.state.forecast_value < trace.cap


def test_single_zero_readings_never_resolve_a_firing_alert() -> None:
    trace = monthly_cap_trace("gha-zero", 4, total=1.15, faults=Faults(zero_glitches=4), every=HOUR)
    daily = daily_cap_trace(
        "workers-zero", 11, totals=[1.2, 1.1, 1.3], faults=Faults(zero_glitches=6)
    )
    for one in (trace, daily):
        bad = {one.series.points[i][0] for i in one.bad}
        assert bad
        result = run(one)
        assert not [t for t in result.transitions if t.kind == "resolved" and t.at in bad]
        # nor does one change what the messages say: no message reports a value of 0
        assert not [t for t in result.transitions if t.at in bad and t.state.value == 0.0]


def test_afternoon_spike_on_a_daily_cap_warns_before_the_threshold() -> None:
    # a 14:00 spike (70 % of the cap in an hour) on a day otherwise at 50 %
    trace = daily_cap_trace("workers-spike", 6, totals=[0.5] * 3, spike=(14.0, 0.7))
    result = run(trace)
    for (start, _), reached in zip(trace.periods(), cap_reached(trace), strict=True):
        if start == trace.series.points[0][0]:
            continue  # the first day has no earlier day to compare with
        assert reached is not None
        day = [t for t in result.transitions if t.state.period_start == start]
        forecast = first(day, "QuotaPredictedFull")
        warning = first(day, "QuotaAlmostFull")
        assert forecast.at < warning.at
        assert reached - forecast.at >= 30 * timedelta(minutes=1)


def test_diurnal_daily_cap_warns_hours_ahead_once_it_has_history() -> None:
    trace = daily_cap_trace("workers", 9, totals=[1.0, 0.9, 1.2])
    result = run(trace)
    start, _ = trace.periods()[2]
    reached = cap_reached(trace)[2]
    assert start is not None and reached is not None
    day = [t for t in result.transitions if t.state.period_start == start]
    forecast = first(day, "QuotaPredictedFull")
    assert reached - forecast.at >= 4 * HOUR
    # earlier days at 80-100 % raise the threshold warning only: no forecast false alarm
    earlier = [t for t in result.transitions if t.at < start]
    assert "QuotaPredictedFull" not in {t.state.alertname for t in earlier}
