"""RulesCache: each series' rules resolved once per pack and overrides, with the same errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from quota_watch.engine.evaluation import evaluate_account
from quota_watch.engine.health import AccountHealth
from quota_watch.engine.rulepack import RuleOverride, RulePack
from quota_watch.engine.scope import RulesCache, account_rules, rules_for_series
from quota_watch.engine.signals import SeriesView
from quota_watch.sdk import Measure, Period, PeriodKind

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
OVERRIDES = TypeAdapter(list[RuleOverride])


def overrides(*entries: dict[str, Any]) -> list[RuleOverride]:
    return OVERRIDES.validate_python(list(entries))


def view(
    limit: str, *, unit: str = "count", cap: float | None = 1000.0, value: float = 950.0
) -> SeriesView:
    return SeriesView(
        provider="cloudflare",
        account="cf-main",
        limit=limit,
        unit=unit,
        measure=Measure.CUMULATIVE,
        period_kind=PeriodKind.CALENDAR_MONTH,
        period=Period(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),
        cap=cap,
        points=[(NOW - timedelta(hours=1), value - 10), (NOW, value)],
        now=NOW,
    )


def test_the_cached_rules_and_errors_are_those_resolved_each_time() -> None:
    pack = RulePack()
    rules = overrides(
        {"match": {"limit": "kv_writes"}, "warning": "4 GB"}, {"match": {}, "for_runs": 3}
    )
    cache = RulesCache(pack, rules)
    for _ in range(3):  # the errors are given again at every use, as resolving would
        for series in (view("kv_writes"), view("kv_writes", unit="bytes", cap=8e9), view("d1")):
            expected_errors: list[str] = []
            expected = rules_for_series(pack, rules, series, expected_errors)
            errors: list[str] = []
            assert cache.series(series, errors) == expected
            assert errors == expected_errors
        expected_errors = []
        expected = account_rules(
            pack,
            rules,
            provider="cloudflare",
            account="cf-main",
            group=None,
            errors=expected_errors,
        )
        errors = []
        found = cache.account(provider="cloudflare", account="cf-main", group=None, errors=errors)
        assert (found, errors) == (expected, expected_errors)
    bytes_rules = cache.series(view("kv_writes", unit="bytes", cap=8e9), [])
    assert bytes_rules.warning == 0.5  # a new cap re-resolves the absolute threshold
    assert cache.series(view("kv_writes", unit="bytes", cap=16e9), []).warning == 0.25


def test_keep_only_drops_the_rules_of_other_accounts() -> None:
    cache = RulesCache(RulePack(), [])
    cache.series(view("d1"), [])
    cache.account(provider="cloudflare", account="cf-main", group=None, errors=[])
    cache.keep_only({"cf-main"})
    assert cache._series and cache._accounts
    cache.keep_only({"other"})
    assert not cache._series and not cache._accounts


def test_evaluation_with_a_cache_is_the_same_as_without() -> None:
    pack = RulePack()
    rules = overrides(
        {"match": {"limit": "kv_writes"}, "warning": "4 GB"}, {"match": {}, "for_runs": 1}
    )
    health = AccountHealth(
        last_success_at=NOW,
        last_outcome=None,
        consecutive_failures=0,
        interval=timedelta(minutes=5),
    )
    common: dict[str, Any] = {
        "provider": "cloudflare",
        "account": "cf-main",
        "group": None,
        "series": [view("kv_writes", value=990.0), view("d1", value=999.0)],
        "health": health,
        "prior": [],
        "pack": pack,
        "overrides": rules,
        "now": NOW,
    }
    plain = evaluate_account(**common)
    assert plain.errors and plain.transitions  # the case holds an error and a firing alert
    cache = RulesCache(pack, rules)
    for _ in range(2):
        assert evaluate_account(**common, cache=cache) == plain
    # A cache of other overrides (a reload the caller has not taken in) is not used.
    stale = RulesCache(pack, overrides())
    assert evaluate_account(**common, cache=stale) == plain
    assert not stale._series
