"""The provider's own forecast (Reading.forecast) in the forecast rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from quota_watch.engine.forecast import forecast_signal
from quota_watch.engine.provider_forecast import PROVIDER_NOTE, with_provider_forecast
from quota_watch.engine.rulepack import EffectiveRules, RuleOverride, RulePack, effective_rules
from quota_watch.engine.signals import SeriesView
from quota_watch.sdk import Measure, Period, PeriodKind

MONTH = Period(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
NOW = datetime(2026, 11, 22, 10, tzinfo=UTC)


def rules(**values: Any) -> EffectiveRules:
    entries = TypeAdapter(list[RuleOverride]).validate_python([values] if values else [])
    return effective_rules(
        RulePack(),
        entries,
        provider="aws",
        account="a",
        limit="free_tier_units",
        group=None,
        unit="count",
        cap=1000.0,
    )


def view(
    points: list[tuple[datetime, float]],
    provided: float | None,
    *,
    measure: Measure = Measure.CUMULATIVE,
    kind: PeriodKind = PeriodKind.CALENDAR_MONTH,
    cap: float | None = 1000.0,
) -> SeriesView:
    return SeriesView(
        provider="aws",
        account="a",
        limit="free_tier_units",
        unit="count",
        measure=measure,
        period_kind=kind,
        period=MONTH,
        cap=cap,
        points=points,
        now=NOW,
        provider_forecast=provided,
    )


def judged(v: SeriesView, r: EffectiveRules | None = None) -> Any:
    r = r or rules()
    return with_provider_forecast(forecast_signal(v, r), v, r)


def test_the_providers_projection_fires_where_one_point_gives_no_trend() -> None:
    signal = judged(view([(NOW, 600.0)], 1200.0))
    assert signal.active and signal.sustained
    assert (signal.forecast_value, signal.forecast_utilization) == (1200.0, 1.2)
    assert signal.notes[0] == PROVIDER_NOTE


def test_it_replaces_a_trend_that_sees_no_exhaustion() -> None:
    flat = [(NOW - timedelta(hours=h), 600.0) for h in range(5, -1, -1)]
    without = judged(view(flat, None))
    assert not without.active and without.forecast_value == 600.0
    signal = judged(view(flat, 1100.0))
    assert signal.active and signal.forecast_value == 1100.0
    assert signal.rate == without.rate  # the trend's own figures stay


def test_the_same_guards_apply() -> None:
    below_floor = judged(view([(NOW, 100.0)], 1500.0))
    assert not below_floor.active and "below the floor" in below_floor.notes
    short = judged(view([(NOW, 600.0)], 900.0))
    assert not short.active and "no exhaustion projected" in short.notes
    # Within the clearing band a firing alert is held, not re-fired.
    held = judged(view([(NOW, 600.0)], 960.0))
    assert (held.active, held.sustained) == (False, True)
    disabled = judged(view([(NOW, 600.0)], 1500.0), rules(forecast=False))
    assert not disabled.active and "disabled" in disabled.notes


def test_a_forecast_below_the_value_is_raised_to_it() -> None:
    signal = judged(view([(NOW, 700.0)], 500.0))
    assert signal.forecast_value == 700.0


def test_ignored_where_nothing_projects_to_a_period_end() -> None:
    points = [(NOW, 600.0)]
    for v in (
        view(points, 5000.0, measure=Measure.LEVEL),
        view(points, 5000.0, kind=PeriodKind.NONE),
    ):
        r = rules()
        assert with_provider_forecast(forecast_signal(v, r), v, r) == forecast_signal(v, r)
