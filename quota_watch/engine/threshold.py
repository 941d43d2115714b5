"""Threshold rule: utilization at or above the warning / critical ratio of the cap."""

from __future__ import annotations

from typing import Any

from quota_watch.engine.rulepack import EffectiveRules
from quota_watch.engine.signals import SeriesView, Signal, utilization
from quota_watch.model import Severity

__all__ = ["held_severity", "raw_severity", "threshold_signal"]


def raw_severity(ratio: float | None, rules: EffectiveRules) -> Severity | None:
    """critical at >= critical, warning at >= warning, else None (no hysteresis)."""
    if ratio is None or not rules.threshold_enabled:
        return None
    if rules.critical is not None and ratio >= rules.critical:
        return "critical"
    if rules.warning is not None and ratio >= rules.warning:
        return "warning"
    return None


def held_severity(
    ratio: float | None, previous: Severity, rules: EffectiveRules, band: float | None = None
) -> Severity | None:
    """The severity a FIRING threshold alert keeps: escalation at the plain threshold, but
    de-escalation and clearing only below threshold - band (default: clear_hysteresis; the
    state machine passes forecast.clearing_band, which widens it for a noisy series).

    The state machine (state.py) calls this for firing alerts only; pending ones use the raw
    condition, like Prometheus' `for`.
    """
    raw = raw_severity(ratio, rules)
    if raw == "critical" or ratio is None or not rules.threshold_enabled:
        return raw
    band = rules.clear_hysteresis if band is None else band
    if previous == "critical" and rules.critical is not None and ratio >= rules.critical - band:
        return "critical"
    if rules.warning is not None and ratio >= rules.warning - band:
        return "warning"
    return None


def threshold_signal(
    view: SeriesView, rules: EffectiveRules, *, forecast: Signal | None = None
) -> Signal:
    """The raw threshold condition on the newest trusted point (inactive without a cap or
    points): a cumulative value that fell within its period counts once confirmed.

    `forecast`: the series' forecast signal, whose figures (forecast_value,
    forecast_utilization, exhausts_at, noise) the threshold signal then carries.
    """
    carried: dict[str, Any] = {}
    if forecast is not None:
        carried = {
            "forecast_value": forecast.forecast_value,
            "forecast_utilization": forecast.forecast_utilization,
            "exhausts_at": forecast.exhausts_at,
            "noise": forecast.noise,
        }
    points = view.trusted_points()
    if not points:
        return Signal(kind="threshold", active=False, cap=view.cap, unit=view.unit, **carried)
    value = points[-1][1]
    ratio = utilization(value, view.cap)
    severity = raw_severity(ratio, rules)
    return Signal(
        kind="threshold",
        active=severity is not None,
        severity=severity or "warning",
        value=value,
        cap=view.cap,
        ratio=ratio,
        unit=view.unit,
        points_used=1,
        **carried,
    )
