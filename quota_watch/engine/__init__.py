"""The rules engine: rule pack, rule kinds, alert state machine and replay (pure, no I/O)."""

from quota_watch.engine.evaluation import Evaluation, evaluate_account
from quota_watch.engine.forecast import fit_trend, forecast_signal, theil_sen
from quota_watch.engine.health import AccountHealth, auth_signal, stale_signal
from quota_watch.engine.replay import (
    ReplayResult,
    ReplaySeries,
    SeriesFileError,
    load_series,
    parse_series_csv,
    parse_series_toml,
    replay,
)
from quota_watch.engine.rulepack import (
    EffectiveRules,
    RuleError,
    RuleMatch,
    RuleOverride,
    RulePack,
    RulePackError,
    default_pack_path,
    effective_rules,
    load_rule_pack,
    parse_rule_pack,
    resolve_threshold,
)
from quota_watch.engine.signals import SeriesView, Signal, utilization
from quota_watch.engine.state import (
    ALERTNAMES,
    KINDS,
    AlertSubject,
    Transition,
    alertname,
    fingerprint,
    step,
)
from quota_watch.engine.threshold import held_severity, raw_severity, threshold_signal

__all__ = [
    "ALERTNAMES",
    "KINDS",
    "AccountHealth",
    "AlertSubject",
    "EffectiveRules",
    "Evaluation",
    "ReplayResult",
    "ReplaySeries",
    "RuleError",
    "RuleMatch",
    "RuleOverride",
    "RulePack",
    "RulePackError",
    "SeriesFileError",
    "SeriesView",
    "Signal",
    "Transition",
    "alertname",
    "auth_signal",
    "default_pack_path",
    "effective_rules",
    "evaluate_account",
    "fingerprint",
    "fit_trend",
    "forecast_signal",
    "held_severity",
    "load_rule_pack",
    "load_series",
    "parse_rule_pack",
    "parse_series_csv",
    "parse_series_toml",
    "raw_severity",
    "replay",
    "resolve_threshold",
    "stale_signal",
    "step",
    "theil_sen",
    "threshold_signal",
    "utilization",
]
