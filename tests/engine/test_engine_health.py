"""The one staleness definition, shared by the engine, the report and the Prometheus rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from quota_watch.engine.health import is_stale, stale_age_limit
from quota_watch.engine.rulepack import RulePack
from quota_watch.prometheus.rules import alert_rules

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def test_stale_after_more_than_after_runs_intervals() -> None:
    assert stale_age_limit(MINUTE, 3) == 3 * MINUTE
    assert not is_stale(
        NOW - 3 * MINUTE, 0, interval=MINUTE, after_runs=3, now=NOW
    )  # exactly the allowed age
    assert is_stale(
        NOW - 3 * MINUTE - timedelta(seconds=1), 0, interval=MINUTE, after_runs=3, now=NOW
    )


def test_never_succeeded_stale_after_after_runs_failures() -> None:
    assert not is_stale(None, 2, interval=MINUTE, after_runs=3, now=NOW)
    assert is_stale(None, 3, interval=MINUTE, after_runs=3, now=NOW)


def test_the_prometheus_rule_states_the_same_comparisons() -> None:
    (rule,) = [r for r in alert_rules(RulePack(), interval=MINUTE) if "Stale" in r.alert]
    runs = RulePack().stale.after_runs
    assert f"> {runs} * quota_watch_collector_interval_seconds" in rule.expr
    assert f">= {runs} * quota_watch_collector_interval_seconds" in rule.expr
