"""The rules engine: rule pack, rule kinds, alert state machine and replay (pure, no I/O).

Importing one module of the package (the report needs the rule pack, not the replay) does not
import the others: each name below is imported from its module when it is first used. The
replay function is quota_watch.engine.replay.replay: the package's `replay` is that module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    "resolve_threshold",
    "stale_signal",
    "step",
    "theil_sen",
    "threshold_signal",
    "utilization",
]

_MODULES: dict[str, str] = {
    "ALERTNAMES": "quota_watch.engine.state",
    "AccountHealth": "quota_watch.engine.health",
    "AlertSubject": "quota_watch.engine.state",
    "EffectiveRules": "quota_watch.engine.rulepack",
    "Evaluation": "quota_watch.engine.evaluation",
    "KINDS": "quota_watch.engine.state",
    "ReplayResult": "quota_watch.engine.replay",
    "ReplaySeries": "quota_watch.engine.replay",
    "RuleError": "quota_watch.engine.rulepack",
    "RuleMatch": "quota_watch.engine.rulepack",
    "RuleOverride": "quota_watch.engine.rulepack",
    "RulePack": "quota_watch.engine.rulepack",
    "RulePackError": "quota_watch.engine.rulepack",
    "SeriesFileError": "quota_watch.engine.replay",
    "SeriesView": "quota_watch.engine.signals",
    "Signal": "quota_watch.engine.signals",
    "Transition": "quota_watch.engine.state",
    "alertname": "quota_watch.engine.state",
    "auth_signal": "quota_watch.engine.health",
    "default_pack_path": "quota_watch.engine.rulepack",
    "effective_rules": "quota_watch.engine.rulepack",
    "evaluate_account": "quota_watch.engine.evaluation",
    "fingerprint": "quota_watch.engine.state",
    "fit_trend": "quota_watch.engine.forecast",
    "forecast_signal": "quota_watch.engine.forecast",
    "held_severity": "quota_watch.engine.threshold",
    "load_rule_pack": "quota_watch.engine.rulepack",
    "load_series": "quota_watch.engine.replay",
    "parse_rule_pack": "quota_watch.engine.rulepack",
    "parse_series_csv": "quota_watch.engine.replay",
    "parse_series_toml": "quota_watch.engine.replay",
    "raw_severity": "quota_watch.engine.threshold",
    "resolve_threshold": "quota_watch.engine.rulepack",
    "stale_signal": "quota_watch.engine.health",
    "step": "quota_watch.engine.state",
    "theil_sen": "quota_watch.engine.forecast",
    "threshold_signal": "quota_watch.engine.threshold",
    "utilization": "quota_watch.engine.signals",
}
"""Each exported name -> the module that defines it."""


def __getattr__(name: str) -> Any:
    """An exported name, imported from its module on first use."""
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
