"""The rule pack: rules/default.toml pinned to the built-in defaults; [[rules]] overrides."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from quota_watch.engine.rulepack import (
    EffectiveRules,
    RuleError,
    RuleOverride,
    RulePack,
    RulePackError,
    default_pack_path,
    effective_rules,
    load_rule_pack,
    parse_rule_pack,
    resolve_threshold,
)

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_FILE = ROOT / "rules" / "default.toml"
OVERRIDES = TypeAdapter(list[RuleOverride])


def overrides(*entries: dict[str, Any]) -> list[RuleOverride]:
    """[[rules]] entries as the config would hold them."""
    return OVERRIDES.validate_python(list(entries))


def rules_for(
    entries: list[RuleOverride],
    *,
    provider: str = "cloudflare",
    account: str = "cf-main",
    limit: str | None = "kv_writes",
    group: str | None = None,
    unit: str | None = "count",
    cap: float | None = 1000.0,
) -> EffectiveRules:
    return effective_rules(
        RulePack(),
        entries,
        provider=provider,
        account=account,
        limit=limit,
        group=group,
        unit=unit,
        cap=cap,
    )


# --- the pack as data -------------------------------------------------------------------------


def test_default_file_equals_builtin_defaults() -> None:
    assert load_rule_pack(DEFAULT_FILE) == RulePack()


def test_default_file_states_every_key() -> None:
    # A key missing from the file would be filled silently by the model's default.
    raw = tomllib.loads(DEFAULT_FILE.read_text())
    builtin = RulePack().model_dump()
    assert {k: sorted(v) for k, v in raw.items()} == {k: sorted(v) for k, v in builtin.items()}


def test_changing_a_default_in_the_file_breaks_the_pin() -> None:
    text = DEFAULT_FILE.read_text().replace("floor = 0.4", "floor = 0.6")
    assert parse_rule_pack(text) != RulePack()


def test_default_pack_is_found_and_loaded_without_a_path() -> None:
    assert default_pack_path() == DEFAULT_FILE
    assert load_rule_pack() == RulePack()


def test_builtin_defaults_are_the_issue_numbers() -> None:
    pack = RulePack()
    assert (pack.threshold.warning, pack.threshold.critical) == (0.8, 1.0)
    assert (pack.threshold.for_runs, pack.threshold.clear_hysteresis) == (2, 0.05)
    assert (pack.forecast.floor, pack.forecast.min_points) == (0.4, 4)
    assert pack.forecast.horizon == timedelta(days=7)
    # issue #12: 3 d for monthly/cycle/level limits, 6 h on daily caps; >= 3 h of history
    assert pack.forecast.lookback == timedelta(days=3)
    assert pack.forecast.lookback_daily == timedelta(hours=6)
    assert pack.forecast.min_span == timedelta(hours=3)
    assert pack.stale.after_runs == 3
    assert pack.reminders.initial == timedelta(hours=4)
    assert pack.reminders.factor == 2.0
    assert pack.reminders.max == timedelta(hours=24)


def test_pack_rejects_unknown_keys_with_their_path() -> None:
    with pytest.raises(RulePackError) as caught:
        parse_rule_pack("[threshold]\nwarnng = 0.7\n", "pack.toml")
    assert caught.value.errors == ["pack.toml: threshold.warnng: unknown key"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[threshold]\nwarning = 0.9\ncritical = 0.8\n", "must not be above critical"),
        ("[threshold]\nwarning = 0\n", "a ratio must be > 0"),
        ("[threshold]\nwarning = 11\n", "a ratio must be > 0 and <= 10"),
        ("[threshold]\nwarning = true\n", "must be a ratio"),
        ("[reminders]\ninitial = '2d'\n", "max must not be shorter than initial"),
        ("[forecast]\nhorizon = 'soon'\n", "is not a duration"),
        ("[forecast]\nmin_points = 1\n", "forecast.min_points"),
        ("[stale\n", "invalid TOML"),
    ],
)
def test_pack_validation_errors(text: str, message: str) -> None:
    with pytest.raises(RulePackError) as caught:
        parse_rule_pack(text)
    assert message in str(caught.value)


def test_pack_partial_file_keeps_other_defaults(tmp_path: Path) -> None:
    path = tmp_path / "pack.toml"
    path.write_text("[forecast]\nenabled = false\nhorizon = '3d'\n")
    pack = load_rule_pack(path)
    assert pack.forecast.enabled is False
    assert pack.forecast.horizon == timedelta(days=3)
    assert pack.threshold == RulePack().threshold


def test_missing_pack_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RulePackError, match="cannot read"):
        load_rule_pack(tmp_path / "nope.toml")


# --- overrides --------------------------------------------------------------------------------


def test_no_override_gives_the_pack() -> None:
    rules = rules_for([])
    assert rules.warning == 0.8
    assert rules.critical == 1.0
    assert rules.for_runs == 2
    assert rules.forecast_enabled
    assert rules.reminder_max == timedelta(hours=24)


def test_override_parsed_from_config_toml() -> None:
    data = tomllib.loads(
        """
        [[rules]]
        match = { provider = "cloudflare", limit = "d1_storage" }
        warning = 0.5
        critical = "4 GB"
        for_runs = 3
        forecast = false
        forecast_horizon = "3d"
        """
    )
    (entry,) = overrides(*data["rules"])
    assert entry.match.provider == "cloudflare"
    assert entry.match.limit == "d1_storage"
    assert entry.forecast_horizon == timedelta(days=3)
    rules = rules_for([entry], limit="d1_storage", unit="bytes", cap=5e9)
    assert rules.warning == 0.5
    assert rules.critical == pytest.approx(0.8)
    assert rules.for_runs == 3
    assert rules.forecast_enabled is False
    assert rules.forecast_horizon == timedelta(days=3)


def test_every_match_key_must_equal() -> None:
    entry = overrides({"match": {"provider": "cloudflare", "account": "cf-2"}, "warning": 0.5})
    assert rules_for(entry, account="cf-2").warning == 0.5
    assert rules_for(entry, account="cf-main").warning == 0.8
    assert rules_for(entry, provider="supabase", account="cf-2").warning == 0.8


def test_group_and_resource_match() -> None:
    entries = overrides(
        {"match": {"group": "edge"}, "warning": 0.6},
        {"match": {"resource": "/boot"}, "warning": 0.95},
    )
    assert rules_for(entries, group="edge").warning == 0.6
    assert rules_for(entries, group=None).warning == 0.8
    resource_rules = effective_rules(
        RulePack(),
        entries,
        provider="host",
        account="host",
        limit="disk",
        group=None,
        unit="bytes",
        cap=1e9,
        resource="/boot",
    )
    assert resource_rules.warning == 0.95


def test_empty_match_applies_everywhere() -> None:
    assert rules_for(overrides({"warning": 0.7})).warning == 0.7


def test_later_entries_win_key_by_key() -> None:
    entries = overrides(
        {"match": {"provider": "cloudflare"}, "warning": 0.5, "critical": 0.9, "for_runs": 4},
        {"match": {"limit": "kv_writes"}, "warning": 0.6},
    )
    rules = rules_for(entries)
    assert (rules.warning, rules.critical, rules.for_runs) == (0.6, 0.9, 4)


def test_account_level_rules_ignore_limit_matches() -> None:
    entries = overrides({"match": {"limit": "kv_writes"}, "stale": False}, {"auth": False})
    rules = rules_for(entries, limit=None, unit=None, cap=None)
    assert rules.stale_enabled is True
    assert rules.auth_enabled is False


@pytest.mark.parametrize(
    ("value", "unit", "cap", "expected"),
    [
        (0.5, "bytes", 1e9, 0.5),
        (1, "bytes", 1e9, 1.0),
        (10, "count", 1e6, 10.0),
        ("75%", "count", 100.0, 0.75),
        ("4 GB", "bytes", 5e9, 0.8),
        ("1 GiB", "bytes", 2**31, 0.5),
        ("80k", "count", 100_000.0, 0.8),
        ("90 min", "seconds", 7200.0, 0.75),
        (5000, "count", 10_000.0, 0.5),  # a number above 10 is an amount in base units
        ("5k", "count", 10_000.0, 0.5),
        ("4 GB", "bytes", None, None),  # no cap: the threshold cannot evaluate
        (5000, "count", None, None),
        ("4 GB", None, None, None),  # account-level: no unit
    ],
)
def test_resolve_threshold(
    value: float | str, unit: str | None, cap: float | None, expected: float | None
) -> None:
    result = resolve_threshold(value, unit, cap)
    assert result == (None if expected is None else pytest.approx(expected))


def test_quoted_plain_numbers_mean_the_number() -> None:
    entry = overrides({"warning": "0.7", "critical": "5000"})[0]
    assert (entry.warning, entry.critical) == (0.7, 5000.0)
    rules = rules_for([entry], cap=10_000.0)
    assert (rules.warning, rules.critical) == (0.7, 0.5)


def test_absolute_threshold_in_the_wrong_unit_names_the_override() -> None:
    entries = overrides({"warning": 0.7}, {"match": {"limit": "kv_writes"}, "critical": "4 GB"})
    with pytest.raises(RuleError, match=r"rules\[1\]\.critical: '4 GB': unknown suffix"):
        rules_for(entries, unit="count")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"warning": True}, "must be a ratio"),
        ({"warning": 0}, "must be a finite number > 0"),
        ({"warning": -1}, "must be a finite number > 0"),
        ({"critical": "lots"}, "neither a percentage"),
        ({"critical": "0%"}, "a percentage must be > 0%"),
        ({"critical": "0"}, "must be a finite number > 0"),
        ({"critical": "0 GB"}, "a threshold amount must be > 0"),
        ({"for_runs": 0}, "greater than or equal to 1"),
        ({"match": {"provider": "x", "region": "eu"}}, "Extra inputs are not permitted"),
        ({"treshold": False}, "Extra inputs are not permitted"),
        ({"forecast_horizon": "eventually"}, "is not a duration"),
        ({"forecast_horizon": "99999d"}, "must not exceed 3650d"),
    ],
)
def test_override_validation(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        overrides(entry)


def test_reminder_bounds_checked_after_merging() -> None:
    entries = overrides({"reminder_initial": "2d"})
    with pytest.raises(RuleError, match="reminder_max must not be shorter"):
        rules_for(entries)


def test_for_runs_per_kind() -> None:
    rules = rules_for(overrides({"for_runs": 3, "forecast_for_runs": 5}))
    assert rules.for_runs_of("threshold") == 3
    assert rules.for_runs_of("forecast") == 5
    assert rules.for_runs_of("stale") == 1
    assert rules.for_runs_of("auth") == 1


def test_kinds_can_be_disabled() -> None:
    rules = rules_for(overrides({"threshold": False, "forecast": False}))
    assert not rules.enabled("threshold")
    assert not rules.enabled("forecast")
    assert rules.enabled("stale")
    assert rules.enabled("auth")
