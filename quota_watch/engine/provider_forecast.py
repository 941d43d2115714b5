"""The provider's own forecast (Reading.forecast, e.g. AWS's forecastedUsageAmount) in the
forecast rule: where a cumulative limit with a calendar period has one, it replaces the trend's
projection to the period end; the trend still gives exhausts_at and the rate."""

from __future__ import annotations

from dataclasses import replace

from quota_watch.engine.rulepack import EffectiveRules
from quota_watch.engine.signals import SeriesView, Signal, utilization
from quota_watch.sdk import Measure

__all__ = ["PROVIDER_NOTE", "with_provider_forecast"]

PROVIDER_NOTE = "provider forecast"
"""The note a forecast signal carries when its forecast_value is the provider's."""


def with_provider_forecast(signal: Signal, view: SeriesView, rules: EffectiveRules) -> Signal:
    """`signal` with the provider's forecast of `view` as its forecast_value, re-judged with
    the same guards (floor, clear_hysteresis, enabled) as a projection to the period end.

    Unchanged without a provider forecast, or when the series does not project to a period
    end (level limits, rolling and unbounded periods). A provider forecast below the current
    value is raised to it: a cumulative value never falls within its period.
    """
    provided = view.provider_forecast
    value = view.value
    if (
        provided is None
        or value is None
        or view.measure is not Measure.CUMULATIVE
        or not view.calendar
        or view.period.end is None
    ):
        return signal
    forecast_value = max(provided, value)
    cap = view.cap
    band = rules.clear_hysteresis
    active = held = False
    notes: list[str] = [n for n in signal.notes if n in ("disabled",)]
    if cap is not None and cap > 0:
        floor = rules.forecast_floor * cap
        projected = forecast_value >= cap
        active = projected and value >= floor
        held = forecast_value >= cap * (1 - band) and value >= floor - band * cap
        if not projected:
            notes.insert(0, "no exhaustion projected")
        elif not active:
            notes.insert(0, "below the floor")
    if not rules.forecast_enabled:
        active = held = False
        if "disabled" not in notes:
            notes.append("disabled")
    return replace(
        signal,
        active=active,
        sustained=held,
        value=value,
        cap=cap,
        ratio=utilization(value, cap),
        forecast_value=forecast_value,
        forecast_utilization=utilization(forecast_value, cap),
        unit=view.unit,
        notes=(PROVIDER_NOTE, *notes),
    )
