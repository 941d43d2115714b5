"""Prometheus alerting rules built from the rule pack: the engine's alerts, written in PromQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from quota_watch.engine.health import STALE_AGE_COMPARISON, STALE_FAILURES_COMPARISON
from quota_watch.engine.rulepack import RulePack
from quota_watch.engine.state import ALERTNAMES
from quota_watch.prometheus import names
from quota_watch.prometheus.alertrule import AlertRule, prometheus_duration, runbook_anchor
from quota_watch.prometheus.metarules import (
    DEFAULT_JOB,
    META_ALERT_NAMES,
    META_GROUP_NAME,
    meta_rules,
)

__all__ = [
    "ALERT_NAMES",
    "DEFAULT_JOB",
    "DEFAULT_RUNBOOK_URL",
    "GROUP_NAME",
    "RULES_FILE",
    "SHARD_ALERT",
    "AlertRule",
    "alert_rules",
    "default_output_dir",
    "prometheus_duration",
    "render_rule_file",
    "rule_document",
    "runbook_anchor",
]

RULES_FILE = "quota-watch.rules.yml"
"""The file `quota-watch rules export` writes into its output directory."""

GROUP_NAME = "quota-watch"

SHARD_ALERT = ALERTNAMES[("shard", "info")]

ALERT_NAMES = (*ALERTNAMES.values(), *META_ALERT_NAMES)
"""Every alert name the generated file may hold, in file order."""

DEFAULT_RUNBOOK_URL = "https://github.com/quota-watch/quota-watch/blob/main/docs/runbook.md"

_CHECKOUT = Path(__file__).resolve().parents[2]

_ACCOUNT = "{{ $labels.account }} ({{ $labels.provider }})"
_SERIES = (
    "{{ $labels.account }} ({{ $labels.provider }}) {{ $labels.limit }}"
    "{{ with $labels.resource }} [{{ . }}]{{ end }}"
)


def _ratio(value: float) -> str:
    return f"{value:g}"


def _percent(value: float) -> str:
    return f"{value * 100:g} %"


def _held(for_runs: int, interval: timedelta) -> timedelta:
    # The engine fires on the for_runs-th consecutive poll at/above the threshold, i.e.
    # (for_runs - 1) poll intervals after the first one; the gauge holds its value in between.
    return interval * (for_runs - 1)


def _interval_scope(own: timedelta, default: timedelta, others: Sequence[timedelta]) -> str:
    """The PromQL clause that narrows a rule to the accounts polled every `own` ("" when every
    account shares the default interval)."""
    if not others:
        return ""
    seconds = f"{own.total_seconds():g}"
    if own == default:
        # Accounts whose interval metric is missing (not polled yet) fall here too.
        return f"unless on (provider, account) {names.COLLECTOR_INTERVAL} != {seconds}"
    return f"and on (provider, account) {names.COLLECTOR_INTERVAL} == {seconds}"


def _scoped(expr: str, scope: str) -> str:
    if not scope:
        return expr
    inner = "\n".join(f"  {line}" for line in expr.splitlines())
    return f"(\n{inner}\n)\n{scope}"


def alert_rules(
    pack: RulePack, *, interval: timedelta, account_intervals: Iterable[timedelta] = ()
) -> list[AlertRule]:
    """The alerting rules mirroring `pack` (disabled kinds left out). `interval` is the default
    poll interval that turns the engine's for_runs polls into `for:` and `keep_firing_for:`
    durations; each other interval in `account_intervals` gets its own copy of the threshold
    and forecast rules, narrowed to the accounts polled at that interval."""
    others = sorted({own for own in account_intervals if own != interval})
    rules: list[AlertRule] = []
    for own in (interval, *others):
        scope = _interval_scope(own, interval, others)
        if pack.threshold.enabled:
            rules.extend(_threshold_rules(pack, own, scope))
        if pack.forecast.enabled:
            rules.append(_forecast_rule(pack, own, scope))
    if pack.stale.enabled:
        rules.append(_stale_rule(pack))
    if pack.auth.enabled:
        rules.append(_auth_rule())
    if pack.shard.enabled:
        rules.append(_shard_rule(pack))
    return rules


def _threshold_rules(pack: RulePack, interval: timedelta, scope: str) -> list[AlertRule]:
    threshold = pack.threshold
    warning, critical = _ratio(threshold.warning), _ratio(threshold.critical)
    # A firing alert resolves only after for_runs good polls, as the engine holds it: one
    # bad reading (a zero glitch, a provider hiccup) does not resolve and re-fire it.
    kept = _held(threshold.for_runs, interval)
    return [
        AlertRule(
            alert=ALERTNAMES[("threshold", "warning")],
            # Below critical only: QuotaFullyUsed replaces it, as the engine's critical
            # severity does (one alert whose severity moves); while keep_firing_for holds a
            # warning beside a new critical, Alertmanager's inhibit_rules (critical inhibits
            # warning) keep one voice.
            expr=_scoped(
                f"{names.UTILIZATION_RATIO} >= {warning}\n"
                f"and {names.UTILIZATION_RATIO} < {critical}",
                scope,
            ),
            for_=_held(threshold.for_runs, interval),
            keep_firing_for=kept,
            severity="warning",
            summary=f"{_SERIES} is above {_percent(threshold.warning)} of its free-tier cap",
            description=(
                f"{_SERIES} has used {{{{ $value | humanizePercentage }}}} of its cap "
                f"(warning at {_percent(threshold.warning)}, critical at "
                f"{_percent(threshold.critical)}). Check what drives the usage with "
                "`quota-watch report` and act before the provider enforces the limit."
            ),
        ),
        AlertRule(
            alert=ALERTNAMES[("threshold", "critical")],
            expr=_scoped(f"{names.UTILIZATION_RATIO} >= {critical}", scope),
            for_=timedelta(0),  # the engine raises critical at the first poll
            keep_firing_for=kept,
            severity="critical",
            summary=f"{_SERIES} has used {_percent(threshold.critical)} of its free-tier cap",
            description=(
                f"{_SERIES} is at {{{{ $value | humanizePercentage }}}} of its cap. The "
                "provider may now refuse requests, pause the project or bill; see the "
                "runbook for what to do."
            ),
        ),
    ]


def _forecast_rule(pack: RulePack, interval: timedelta, scope: str) -> AlertRule:
    forecast = pack.forecast
    return AlertRule(
        alert=ALERTNAMES[("forecast", "warning")],
        # The metric exists only where the fit had min_points points; the second
        # operand is the floor guard on current utilization.
        expr=_scoped(
            f"{names.FORECAST_UTILIZATION_RATIO} >= 1\n"
            f"and {names.UTILIZATION_RATIO} >= {_ratio(forecast.floor)}",
            scope,
        ),
        for_=_held(forecast.for_runs, interval),
        keep_firing_for=_held(forecast.for_runs, interval),
        severity="warning",
        summary=f"{_SERIES} is projected to exceed its free-tier cap",
        description=(
            f"The trend of {_SERIES} projects {{{{ $value | humanizePercentage }}}} "
            "of its cap by the end of the period (cumulative limits) or within "
            f"{prometheus_duration(forecast.horizon)} (level limits); it is already at "
            f"{_percent(forecast.floor)} or more. "
            f"Exhaustion time: metric {names.FORECAST_EXHAUSTION}."
        ),
    )


def _stale_rule(pack: RulePack) -> AlertRule:
    runs = pack.stale.after_runs
    last_success, interval = names.COLLECTOR_LAST_SUCCESS, names.COLLECTOR_INTERVAL
    # Never succeeded: failed polls x interval stands in for the age (the engine counts
    # consecutive failures; with no success they are all the polls so far).
    stale = (
        f"(\n  time() - {last_success}\n"
        f"    {STALE_AGE_COMPARISON} {runs} * {interval}\n"
        f"  or\n  (\n    {names.COLLECTOR_FAILURES_TOTAL} * {interval}\n"
        f"      {STALE_FAILURES_COMPARISON} {runs} * {interval}\n"
        f"  )\n  unless on (provider, account) "
        f"{last_success}\n)"
    )
    if pack.auth.enabled:
        # The auth alert already says why there is no data (the engine does the same).
        stale += f"\nunless on (provider, account) {names.COLLECTOR_AUTH_FAILED} == 1"
    return AlertRule(
        alert=ALERTNAMES[("stale", "warning")],
        expr=stale,
        for_=timedelta(0),  # the age itself is the delay
        severity="warning",
        summary=f"{_ACCOUNT} has not been polled successfully for {runs} intervals",
        description=(
            f"No successful poll of {_ACCOUNT} for about "
            "{{ $value | humanizeDuration }} "
            f"(more than {runs} of its poll intervals). Its figures, and every alert "
            "computed from them, are out of date."
        ),
    )


def _auth_rule() -> AlertRule:
    return AlertRule(
        alert=ALERTNAMES[("auth", "critical")],
        expr=f"{names.COLLECTOR_AUTH_FAILED} == 1",
        for_=timedelta(0),
        severity="critical",
        summary=f"{_ACCOUNT}: credentials rejected",
        description=(
            f"The provider rejected the credentials of {_ACCOUNT} on the last poll. "
            "Polling of the account is paused (re-tried every polling.auth_retry): renew "
            "the token, update the secret and reload the daemon (SIGHUP), or run "
            "`quota-watch account resume ACCOUNT` once the provider accepts it again."
        ),
    )


def _shard_rule(pack: RulePack) -> AlertRule:
    return AlertRule(
        alert=SHARD_ALERT,
        expr=(
            f"max by (provider, group) ({names.POOL_SHARDS_RECOMMENDED})\n"
            f"> on (provider, group) {names.POOL_SHARDS}"
        ),
        for_=timedelta(0),
        severity="info",
        summary="Shard pool {{ $labels.group }} ({{ $labels.provider }}) needs more accounts",
        description=(
            "The projected peak of pool {{ $labels.group }} ({{ $labels.provider }}) "
            "needs {{ $value }} accounts to keep each at "
            f"{_percent(pack.shard.target_utilization)} of its cap, more than the pool has. "
            "`quota-watch plan` names the binding limit, the hot shard and the date to act by."
        ),
    )


_HEADER = """\
# Prometheus alerting rules for quota-watch. GENERATED by `quota-watch rules export` from
# {source}: do not edit; change the rule pack and export again
# (tests/test_generated.py fails when this file and the export differ).
#
# Group quota-watch: the built-in engine's alerts (names, thresholds, severities). In PromQL:
# - `for_runs` consecutive polls become `for: (for_runs - 1) x interval` and a firing alert is
#   held for as long again (`keep_firing_for`), as the engine holds one through a bad poll. The
#   interval is polling.interval ({interval}); `rules export --config` adds a copy of the
#   threshold and forecast rules for each other [[accounts]] interval, narrowed to those accounts
#   by {interval_metric}.
# - No clearing hysteresis (clear_hysteresis = {hysteresis}); the warning and critical threshold
#   alerts are two rules.
# - One voice per limit: route through Alertmanager with deploy/alertmanager/alertmanager.yml,
#   whose inhibit_rules let QuotaFullyUsed silence QuotaAlmostFull and QuotaPredictedFull, and
#   QuotaAlmostFull silence QuotaPredictedFull, of the same series (as the engine does).
# - QuotaPredictedFull reads the daemon's forecast ({forecast_metric},
#   present only with forecast.min_points points); horizon and lookback apply there.
# - QuotaDataStale is computed from the clock: it also fires when the daemon stops polling,
#   which the engine (evaluating after polls) cannot see.
# - QuotaShardSplitAdvised fires for as long as the pool needs more shards (the engine notifies
#   once per pool and period; Alertmanager's repeat_interval decides here).
# - [[rules]] overrides in the daemon's config are not reflected.
# Group quota-watch-meta: the watcher itself (scrape job "{job}"): down, notifications failing,
# outbox backlog, heartbeat failing.
# Runbook: docs/runbook.md
"""


class _Dumper(yaml.SafeDumper):
    """Block lists indented under their key, multi-line strings as literal blocks."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def rule_document(
    pack: RulePack,
    *,
    interval: timedelta,
    account_intervals: Iterable[timedelta] = (),
    job: str = DEFAULT_JOB,
    runbook_url_base: str = DEFAULT_RUNBOOK_URL,
) -> dict[str, Any]:
    """The rule file's content: group `quota-watch` with every alert of `pack`, then group
    `quota-watch-meta` with the alerts on the daemon scraped as `job`."""
    engine = alert_rules(pack, interval=interval, account_intervals=account_intervals)
    return {
        "groups": [
            {
                "name": GROUP_NAME,
                "rules": [rule.document(runbook_url_base) for rule in engine],
            },
            {
                "name": META_GROUP_NAME,
                "rules": [rule.document(runbook_url_base) for rule in meta_rules(job)],
            },
        ]
    }


def render_rule_file(
    pack: RulePack,
    *,
    interval: timedelta,
    account_intervals: Iterable[timedelta] = (),
    job: str = DEFAULT_JOB,
    runbook_url_base: str = DEFAULT_RUNBOOK_URL,
    source: str = "rules/default.toml",
) -> str:
    """The rule file as text: a header naming `source` and the differences, then the YAML."""
    header = _HEADER.format(
        source=source,
        interval=prometheus_duration(interval),
        interval_metric=names.COLLECTOR_INTERVAL,
        hysteresis=_ratio(pack.threshold.clear_hysteresis),
        forecast_metric=names.FORECAST_UTILIZATION_RATIO,
        job=job,
    )
    document = rule_document(
        pack,
        interval=interval,
        account_intervals=account_intervals,
        job=job,
        runbook_url_base=runbook_url_base,
    )
    # A wide line limit keeps each annotation on one line: folding would split `{{ ... }}`.
    body = yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, width=4096, allow_unicode=True, indent=2
    )
    return header + body


def default_output_dir() -> Path | None:
    """rules/prometheus of the source checkout this package runs from (None when installed)."""
    if (_CHECKOUT / "rules" / "default.toml").is_file():
        return _CHECKOUT / "rules" / "prometheus"
    return None
