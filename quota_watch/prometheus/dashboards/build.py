"""The three Grafana dashboards, built from the collector catalogue and the rule pack."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from quota_watch.collect.catalog import Catalogue
from quota_watch.engine.rulepack import RulePack
from quota_watch.prometheus.dashboards.model import (
    Annotation,
    Dashboard,
    Override,
    Panel,
    QueryVariable,
    Row,
    Target,
    Threshold,
    percent_thresholds,
    ref_id,
)
from quota_watch.prometheus.exposition import PREFIX, limit_metric, usage_metric
from quota_watch.sdk import LimitSpec, PeriodKind, Unit

__all__ = [
    "ACCOUNT_UID",
    "OVERVIEW_UID",
    "POOLS_UID",
    "Inputs",
    "account",
    "build_all",
    "overview",
    "pools",
]

OVERVIEW_UID = "quota-watch-overview"
ACCOUNT_UID = "quota-watch-account"
POOLS_UID = "quota-watch-pools"
TAGS = ("quota-watch",)

#: Grafana units for the three base units of a limit (bytes are decimal: catalogue caps are).
GRAFANA_UNIT = {Unit.COUNT: "short", Unit.BYTES: "decbytes", Unit.SECONDS: "s"}
_UNIT_TITLE = {Unit.COUNT: "counts", Unit.BYTES: "bytes", Unit.SECONDS: "seconds"}
_DAY = 86400.0


@dataclass(frozen=True)
class Inputs:
    """What the dashboards are generated from: catalogues by provider name, and the rule pack."""

    catalogues: Mapping[str, Catalogue]
    pack: RulePack

    @property
    def warning(self) -> float:
        """The threshold rule's warning ratio."""
        return self.pack.threshold.warning

    @property
    def critical(self) -> float:
        """The threshold rule's critical ratio."""
        return self.pack.threshold.critical

    def percent_steps(self) -> list[Threshold]:
        """Green / orange / red at the rule pack's warning and critical ratios."""
        return percent_thresholds(self.warning, self.critical)

    def limits_in(self, unit: Unit) -> list[str]:
        """`provider/limit` of every catalogued limit measured in `unit`."""
        return [
            f"{provider}/{key}"
            for provider, catalogue in sorted(self.catalogues.items())
            for key, spec in catalogue.limits.items()
            if spec.unit is unit
        ]


def _matchers(*names: str, extra: str = "") -> str:
    parts = [f'{name}=~"${name}"' for name in names]
    if extra:
        parts.append(extra)
    return "{" + ", ".join(parts) + "}"


SERIES = _matchers("provider", "account", "limit")
ACCOUNTS = _matchers("provider", "account")
SERIES_LABELS = "provider, account, limit, resource"
SERIES_LEGEND = "{{provider}}/{{account}} {{limit}} {{resource}}"
ACCOUNT_LEGEND = "{{provider}}/{{account}}"


def _series(metric: str) -> str:
    """One value per series of `metric` (max over scrape targets), labels reduced to the series."""
    return f"max by ({SERIES_LABELS}) ({metric}{SERIES})"


def _per_account(metric: str) -> str:
    return f"max by (provider, account) ({metric}{ACCOUNTS})"


# --- shared panel pieces ----------------------------------------------------------------------

_TIMESERIES_CUSTOM: Mapping[str, Any] = {
    "drawStyle": "line",
    "lineInterpolation": "stepAfter",  # readings hold until the next poll
    "lineWidth": 1,
    "fillOpacity": 0,
    "showPoints": "never",
    "spanNulls": False,
    "axisSoftMin": 0,
    "thresholdsStyle": {"mode": "off"},
}
_TIMESERIES_OPTIONS: Mapping[str, Any] = {
    "legend": {
        "displayMode": "table",
        "placement": "bottom",
        "showLegend": True,
        "calcs": ["lastNotNull", "max"],
    },
    "tooltip": {"mode": "multi", "sort": "desc"},
}
_TABLE_CUSTOM: Mapping[str, Any] = {
    "align": "auto",
    "cellOptions": {"type": "auto"},
    "inspect": False,
}
_STAT_OPTIONS: Mapping[str, Any] = {
    "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
    "colorMode": "background",
    "graphMode": "none",
    "justifyMode": "auto",
    "orientation": "auto",
    "textMode": "auto",
}
_BARGAUGE_OPTIONS: Mapping[str, Any] = {
    "displayMode": "gradient",
    "orientation": "horizontal",
    "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
    "showUnfilled": True,
    "valueMode": "color",
    "namePlacement": "left",
    "minVizHeight": 16,
    "maxVizHeight": 24,
}
_SUCCESS_MAPPING: Mapping[str, Any] = {
    "type": "value",
    "options": {
        "0": {"text": "failing", "color": "red", "index": 1},
        "1": {"text": "ok", "color": "green", "index": 0},
    },
}
_AUTH_MAPPING: Mapping[str, Any] = {
    "type": "value",
    "options": {
        "0": {"text": "accepted", "color": "green", "index": 0},
        "1": {"text": "rejected", "color": "red", "index": 1},
    },
}
_DASHED = {"custom.lineStyle": {"fill": "dash", "dash": [10, 10]}}


def _timeseries(
    title: str,
    description: str,
    unit: str,
    targets: Sequence[Target],
    *,
    thresholds: Sequence[Threshold] = (),
    width: int = 12,
    overrides: Sequence[Override] = (),
    decimals: int | None = None,
) -> Panel:
    custom = dict(_TIMESERIES_CUSTOM)
    if thresholds:
        custom["thresholdsStyle"] = {"mode": "line+area"}
    return Panel(
        "timeseries",
        title,
        description,
        unit,
        targets,
        width=width,
        height=9,
        thresholds=thresholds or (Threshold(None, "green"),),
        custom=custom,
        options=_TIMESERIES_OPTIONS,
        overrides=overrides,
        decimals=decimals,
        color_mode="palette-classic",
    )


def _table(
    title: str,
    description: str,
    unit: str,
    columns: Sequence[tuple[str, str, Target, Mapping[str, Any]]],
    *,
    keys: Sequence[str],
    sort_by: str,
    descending: bool = True,
    width: int = 24,
    height: int = 10,
) -> Panel:
    """A table of instant queries merged on their labels: one (name, title, query, field
    properties) per value column, label columns `keys` first."""
    rename = {f"Value #{ref_id(i)}": column[1] for i, column in enumerate(columns)}
    order = {key: i for i, key in enumerate(keys)}
    order |= {name: len(keys) + i for i, name in enumerate(rename)}
    overrides = [
        Override("byName", column_title, properties)
        for _, column_title, _, properties in columns
        if properties
    ]
    return Panel(
        "table",
        title,
        description,
        unit,
        [target for _, _, target, _ in columns],
        width=width,
        height=height,
        custom=_TABLE_CUSTOM,
        options={
            "showHeader": True,
            "cellHeight": "sm",
            "footer": {"show": False, "reducer": ["sum"], "fields": "", "countRows": False},
            "sortBy": [{"displayName": sort_by, "desc": descending}],
        },
        overrides=overrides,
        transformations=[
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True},
                    "indexByName": order,
                    "renameByName": rename,
                },
            },
        ],
        thresholds=(Threshold(None, "text"),),
    )


def _instant(expr: str) -> Target:
    return Target(expr, instant=True, table=True)


def _gauge_cell(inputs: Inputs) -> dict[str, Any]:
    return {
        "unit": "percentunit",
        "min": 0,
        "max": 1,
        "thresholds": _steps_json(inputs.percent_steps()),
        "color": {"mode": "thresholds"},
        "custom.cellOptions": {"type": "gauge", "mode": "basic", "valueDisplayMode": "text"},
    }


def _colored_percent(inputs: Inputs) -> dict[str, Any]:
    return {
        "unit": "percentunit",
        "thresholds": _steps_json(inputs.percent_steps()),
        "color": {"mode": "thresholds"},
        "custom.cellOptions": {"type": "color-text"},
    }


def _steps_json(steps: Sequence[Threshold]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": s.color, "value": s.value} for s in steps]}


def _pct(ratio: float) -> str:
    return f"{ratio * 100:g} %"


def _thresholds_text(inputs: Inputs) -> str:
    return (
        f"Colours follow the rule pack: warning at {_pct(inputs.warning)}, critical at "
        f"{_pct(inputs.critical)} of the cap (per-limit [[rules]] overrides are not reflected)."
    )


def _variables(*, group: bool = False) -> list[QueryVariable]:
    info = f"{PREFIX}account_info"
    pool = ', group!=""' if group else ""
    in_group = ', group=~"$group"' if group else ""
    found: list[QueryVariable] = [
        QueryVariable(
            "provider",
            "Provider",
            info + ('{group!=""}' if group else ""),
            "provider",
            "Collector name (the provider label).",
        )
    ]
    if group:
        found.append(
            QueryVariable(
                "group",
                "Pool",
                f'{info}{{provider=~"$provider"{pool}}}',
                "group",
                "Shard pool: accounts sharing accounts[].group.",
            )
        )
    found.append(
        QueryVariable(
            "account",
            "Account",
            f'{info}{{provider=~"$provider"{in_group}{pool}}}',
            "account",
            "Configured account name (accounts[].name).",
        )
    )
    usage_any = '__name__=~"' + "|".join(usage_metric(unit.value) for unit in Unit) + '"'
    found.append(
        QueryVariable(
            "limit",
            "Limit",
            f'{{{usage_any}, provider=~"$provider", account=~"$account"}}',
            "limit",
            "Limit key from the collector's catalogue (limits.toml).",
        )
    )
    return found


# --- overview ---------------------------------------------------------------------------------


def overview(inputs: Inputs) -> Dashboard:
    """Every limit riskiest first, forecasts, resets, firing alerts and collector health."""
    util = f"{PREFIX}utilization_ratio"
    forecast = f"{PREFIX}forecast_utilization_ratio"
    period_end = f"{PREFIX}period_end_timestamp_seconds"
    exhaustion = f"{PREFIX}forecast_exhaustion_timestamp_seconds"
    horizon = inputs.pack.forecast.horizon.total_seconds()
    until_steps = [Threshold(None, "red"), Threshold(_DAY, "orange"), Threshold(horizon, "green")]
    if horizon <= _DAY:
        until_steps = [Threshold(None, "red"), Threshold(horizon, "green")]
    severity_colors = {"critical": "red", "warning": "orange", "info": "blue"}
    last_success = f"{PREFIX}collector_last_success_timestamp_seconds"
    summary = [
        Panel(
            "stat",
            "Alerts firing",
            "Alerts quota-watch's own rules have firing now, by severity "
            "(quota_watch_alerts_firing; silenced alerts included).",
            "none",
            [Target(f"sum by (severity) ({PREFIX}alerts_firing)", legend="{{severity}}")],
            width=8,
            height=5,
            thresholds=(Threshold(None, "green"),),
            options=_STAT_OPTIONS,
            decimals=0,
            overrides=[
                Override(
                    "byName",
                    severity,
                    {"thresholds": _steps_json([Threshold(None, "green"), Threshold(1, color)])},
                )
                for severity, color in severity_colors.items()
            ],
        ),
        Panel(
            "stat",
            "Limits past warning",
            f"Limits at or above the rule pack's warning ratio ({_pct(inputs.warning)}) "
            "and its critical ratio "
            f"({_pct(inputs.critical)}) now.",
            "none",
            [
                Target(f"count({util}{SERIES} >= {inputs.warning:g}) or vector(0)", "warning+"),
                Target(f"count({util}{SERIES} >= {inputs.critical:g}) or vector(0)", "critical"),
            ],
            width=5,
            height=5,
            thresholds=(Threshold(None, "green"), Threshold(1, "orange")),
            options=_STAT_OPTIONS,
            decimals=0,
            overrides=[
                Override(
                    "byName",
                    "critical",
                    {"thresholds": _steps_json([Threshold(None, "green"), Threshold(1, "red")])},
                )
            ],
        ),
        Panel(
            "stat",
            "Highest utilization",
            "The highest usage / cap of the selected limits now. " + _thresholds_text(inputs),
            "percentunit",
            [Target(f"max({util}{SERIES})", "highest")],
            width=5,
            height=5,
            thresholds=inputs.percent_steps(),
            options=_STAT_OPTIONS,
        ),
        Panel(
            "stat",
            "Collectors failing",
            "Accounts whose last poll failed (quota_watch_collector_success == 0).",
            "none",
            [Target(f"count({PREFIX}collector_success{ACCOUNTS} == 0) or vector(0)", "failing")],
            width=6,
            height=5,
            thresholds=(Threshold(None, "green"), Threshold(1, "red")),
            options=_STAT_OPTIONS,
            decimals=0,
        ),
    ]
    limits_table = _table(
        "Limits by utilization",
        "Every selected limit, highest utilization first: usage / cap now, the forecast "
        "utilization at the period's end (cumulative limits) or from the trend (levels), the "
        "time until the period resets and until the trend reaches the cap. "
        + _thresholds_text(inputs),
        "percentunit",
        [
            ("util", "Utilization", _instant(f"sort_desc({_series(util)})"), _gauge_cell(inputs)),
            ("forecast", "Forecast", _instant(_series(forecast)), _colored_percent(inputs)),
            (
                "reset",
                "Time to reset",
                _instant(f"{_series(period_end)} - time()"),
                {"unit": "dtdurations"},
            ),
            (
                "exhaustion",
                "Time to exhaustion",
                _instant(f"{_series(exhaustion)} - time()"),
                {
                    "unit": "dtdurations",
                    "thresholds": _steps_json(until_steps),
                    "color": {"mode": "thresholds"},
                    "custom.cellOptions": {"type": "color-text"},
                },
            ),
        ],
        keys=("provider", "account", "limit", "resource"),
        sort_by="Utilization",
        height=12,
    )
    forecast_row = Row(
        "Forecast and resets",
        [
            _timeseries(
                "Forecast utilization",
                "Projected usage / cap at the period's end (cumulative limits) or from the trend "
                "(levels), as quota-watch's forecast rule computes it. " + _thresholds_text(inputs),
                "percentunit",
                [Target(f"{forecast}{SERIES}", SERIES_LEGEND)],
                thresholds=inputs.percent_steps(),
                width=24,
            ),
            Panel(
                "bargauge",
                "Time to exhaustion",
                "Time until the trend reaches the cap, soonest first. Red under a day, green "
                f"beyond the forecast horizon ({inputs.pack.forecast.horizon}).",
                "dtdurations",
                [Target(f"sort({_series(exhaustion)} - time())", SERIES_LEGEND, instant=True)],
                thresholds=until_steps,
                options=_BARGAUGE_OPTIONS,
                minimum=0,
            ),
            Panel(
                "bargauge",
                "Time to reset",
                "Time until each limit's current period ends and its usage starts over, "
                "soonest first (limits without a period are not listed).",
                "dtdurations",
                [Target(f"sort({_series(period_end)} - time())", SERIES_LEGEND, instant=True)],
                thresholds=(Threshold(None, "blue"),),
                options=_BARGAUGE_OPTIONS,
                minimum=0,
            ),
        ],
    )
    alerts_row = Row(
        "Alerts",
        [
            _timeseries(
                "Alerts firing by severity",
                "quota-watch's own alerts firing over time (quota_watch_alerts_firing).",
                "none",
                [Target(f"sum by (severity) ({PREFIX}alerts_firing)", "{{severity}}")],
                decimals=0,
                overrides=[
                    Override("byName", name, {"color": {"mode": "fixed", "fixedColor": color}})
                    for name, color in severity_colors.items()
                ],
            ),
            Panel(
                "table",
                "Prometheus alerts (Quota*)",
                "Alerts Prometheus has pending or firing from the generated quota-watch "
                'alert rules (ALERTS{alertname=~"Quota.*"}); empty without those rules.',
                "none",
                [
                    _instant(
                        "max by (alertname, alertstate, severity, provider, account, limit, "
                        'resource) (ALERTS{alertname=~"Quota.*", provider=~"$provider", '
                        'account=~"$account"})'
                    )
                ],
                custom=_TABLE_CUSTOM,
                options={"showHeader": True, "cellHeight": "sm"},
                transformations=[
                    {
                        "id": "organize",
                        "options": {"excludeByName": {"Time": True, "Value": True}},
                    }
                ],
                thresholds=(Threshold(None, "text"),),
                height=9,
            ),
        ],
    )
    health_row = Row(
        "Collector health",
        [
            _table(
                "Collectors",
                "Per account: whether the last poll succeeded, whether the provider rejected "
                "the credentials, how long ago the last successful poll was and how many poll "
                "intervals that is (red from the stale rule's "
                f"{inputs.pack.stale.after_runs}), failed polls in the dashboard's time range, "
                "and the last poll's duration.",
                "none",
                [
                    (
                        "success",
                        "Last poll",
                        _instant(_per_account(f"{PREFIX}collector_success")),
                        {
                            "mappings": [_SUCCESS_MAPPING],
                            "custom.cellOptions": {"type": "color-background"},
                        },
                    ),
                    (
                        "auth",
                        "Credentials",
                        _instant(_per_account(f"{PREFIX}collector_auth_failed")),
                        {
                            "mappings": [_AUTH_MAPPING],
                            "custom.cellOptions": {"type": "color-background"},
                        },
                    ),
                    (
                        "age",
                        "Last success",
                        _instant(f"time() - {_per_account(last_success)}"),
                        {"unit": "dtdurations"},
                    ),
                    (
                        "missed",
                        "Intervals since success",
                        _instant(
                            f"(time() - {_per_account(last_success)}) / "
                            f"{_per_account(f'{PREFIX}collector_interval_seconds')}"
                        ),
                        {
                            "unit": "short",
                            "decimals": 1,
                            "thresholds": _steps_json(
                                [
                                    Threshold(None, "green"),
                                    Threshold(inputs.pack.stale.after_runs, "red"),
                                ]
                            ),
                            "color": {"mode": "thresholds"},
                            "custom.cellOptions": {"type": "color-text"},
                        },
                    ),
                    (
                        "failures",
                        "Failures in range",
                        _instant(
                            "sum by (provider, account) (increase("
                            f"{PREFIX}collector_failures_total{ACCOUNTS}[$__range]))"
                        ),
                        {"unit": "short", "decimals": 0},
                    ),
                    (
                        "duration",
                        "Poll duration",
                        _instant(_per_account(f"{PREFIX}collector_duration_seconds")),
                        {"unit": "s"},
                    ),
                ],
                keys=("provider", "account"),
                sort_by="Last poll",
                descending=False,
                height=9,
            ),
            _timeseries(
                "Failed polls per hour",
                "Failed polls per account, per hour (increase of "
                "quota_watch_collector_failures_total over 1h).",
                "short",
                [
                    Target(
                        "sum by (provider, account) (increase("
                        f"{PREFIX}collector_failures_total{ACCOUNTS}[1h]))",
                        ACCOUNT_LEGEND,
                    )
                ],
                width=24,
            ),
        ],
    )
    catalogue_row = Row(
        "Free-tier catalogue",
        [
            Panel(
                "text",
                "Catalogued limits",
                "The limits of every installed collector, from their limits.toml files: what "
                "each limit key means, its unit, period, cap and what the provider does past it.",
                "none",
                width=24,
                height=max(8, 3 + sum(3 + len(c.limits) for c in inputs.catalogues.values())),
                options={"mode": "markdown", "content": _catalogue_markdown(inputs)},
            )
        ],
        collapsed=True,
    )
    return Dashboard(
        uid=OVERVIEW_UID,
        title="quota-watch / Overview",
        description="Free-tier limits across every account: riskiest first, forecasts, resets, "
        "alerts and collector health. Generated by `quota-watch dashboards export`.",
        tags=TAGS,
        variables=_variables(),
        items=[
            Row("Limits", [*summary, limits_table]),
            forecast_row,
            alerts_row,
            health_row,
            catalogue_row,
        ],
    )


def _cap_text(spec: LimitSpec) -> str:
    from quota_watch.units import human

    return "from the API" if spec.cap is None else human(spec.cap, spec.unit.value)


def _period_text(spec: LimitSpec) -> str:
    from quota_watch.units import format_duration

    period = spec.period
    if period.kind is PeriodKind.ROLLING and period.window is not None:
        return f"rolling {format_duration(period.window)}"
    if period.kind is PeriodKind.BILLING_CYCLE:
        return f"billing cycle (day {period.anchor_day})"
    if period.kind in (PeriodKind.DAILY, PeriodKind.CALENDAR_MONTH):
        return f"{period.kind.value.replace('_', ' ')} ({period.tz})"
    return "none"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _catalogue_markdown(inputs: Inputs) -> str:
    parts: list[str] = []
    for name, catalogue in sorted(inputs.catalogues.items()):
        info = catalogue.provider
        parts.append(
            f"#### {_cell(info.title)} (`{name}`)\n\n"
            f"Source: <{info.source}>, verified {info.verified.isoformat()}.\n"
        )
        if not catalogue.limits:
            parts.append("Limits are declared per account in the configuration.\n")
            continue
        lines = [
            "| limit | title | unit | measure | period | cap | past the cap |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for key, spec in catalogue.limits.items():
            lines.append(
                f"| `{key}` | {_cell(spec.title)} | {spec.unit.value} | {spec.measure.value} "
                f"| {_period_text(spec)} | {_cap_text(spec)} | {spec.enforcement.value} |"
            )
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


# --- account ----------------------------------------------------------------------------------


def account(inputs: Inputs) -> Dashboard:
    """One account's limits over time against their caps, its periods and its collector."""
    unit_panels: list[Panel] = []
    for unit in (Unit.COUNT, Unit.BYTES, Unit.SECONDS):
        listed = inputs.limits_in(unit)
        which = ", ".join(listed) if listed else "none catalogued"
        unit_panels.append(
            _timeseries(
                f"Usage against cap ({_UNIT_TITLE[unit]})",
                f"Usage (solid, {usage_metric(unit.value)}) and cap (dashed, "
                f"{limit_metric(unit.value)}) of the limits measured in {unit.value}. "
                f"Catalogued: {which}; http_json limits in {unit.value} appear here too.",
                GRAFANA_UNIT[unit],
                [
                    Target(f"{usage_metric(unit.value)}{SERIES}", SERIES_LEGEND),
                    Target(f"{limit_metric(unit.value)}{SERIES}", SERIES_LEGEND + " cap"),
                ],
                overrides=[Override("byFrameRefID", "B", _DASHED)],
            )
        )
    period_start = f"{PREFIX}period_start_timestamp_seconds"
    period_end = f"{PREFIX}period_end_timestamp_seconds"
    utilization = _timeseries(
        "Utilization",
        "Usage / cap over time. " + _thresholds_text(inputs),
        "percentunit",
        [
            Target(f"{PREFIX}utilization_ratio{SERIES}", SERIES_LEGEND),
            Target(f"{PREFIX}forecast_utilization_ratio{SERIES}", SERIES_LEGEND + " forecast"),
        ],
        thresholds=inputs.percent_steps(),
        overrides=[Override("byFrameRefID", "B", _DASHED)],
    )
    periods = _table(
        "Current periods",
        "Each limit's current period: when it started, when it ends and resets, and the time "
        "left. Limits without a period (levels such as storage) are not listed. Period starts "
        "are also marked on the graphs (annotation 'Period starts').",
        "dateTimeAsIso",
        [
            ("start", "Period start", _instant(f"{_series(period_start)} * 1000"), {}),
            ("end", "Period end", _instant(f"{_series(period_end)} * 1000"), {}),
            (
                "left",
                "Time to reset",
                _instant(f"{_series(period_end)} - time()"),
                {"unit": "dtdurations"},
            ),
        ],
        keys=("provider", "account", "limit", "resource"),
        sort_by="Time to reset",
        descending=False,
        height=8,
    )
    collector = [
        _timeseries(
            "Poll duration",
            "How long each poll of the account took (quota_watch_collector_duration_seconds).",
            "s",
            [Target(f"{PREFIX}collector_duration_seconds{ACCOUNTS}", ACCOUNT_LEGEND)],
            width=8,
        ),
        _timeseries(
            "API rate limit remaining",
            "Requests left in the provider's API budget (solid) and the budget (dashed), as the "
            "provider last reported them; empty for providers that do not report one.",
            "short",
            [
                Target(f"{PREFIX}collector_rate_limit_remaining{ACCOUNTS}", ACCOUNT_LEGEND),
                Target(f"{PREFIX}collector_rate_limit{ACCOUNTS}", ACCOUNT_LEGEND + " budget"),
            ],
            width=8,
            overrides=[Override("byFrameRefID", "B", _DASHED)],
        ),
        Panel(
            "state-timeline",
            "Poll outcome",
            "Whether each poll succeeded (quota_watch_collector_success; no data is a success).",
            "none",
            [Target(f"{PREFIX}collector_success{ACCOUNTS}", ACCOUNT_LEGEND)],
            width=8,
            height=9,
            mappings=[_SUCCESS_MAPPING],
            thresholds=(Threshold(None, "red"), Threshold(1, "green")),
            options={
                "mergeValues": True,
                "showValue": "never",
                "alignValue": "left",
                "rowHeight": 0.9,
                "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                "tooltip": {"mode": "single", "sort": "none"},
            },
            custom={"fillOpacity": 80, "lineWidth": 0},
            color_mode="thresholds",
        ),
    ]
    return Dashboard(
        uid=ACCOUNT_UID,
        title="quota-watch / Account",
        description="Usage against the cap over time per limit, period boundaries, and the "
        "account's collector. Generated by `quota-watch dashboards export`.",
        tags=TAGS,
        variables=_variables(),
        items=[
            Row("Usage against cap", [*unit_panels, utilization]),
            Row("Periods", [periods]),
            Row("Collector", collector),
        ],
        annotations=[
            Annotation(
                name="Period starts",
                # The sample value is the period's start; Grafana places the mark there and
                # merges the repeated samples of one period into one mark.
                expr=f"{period_start}{SERIES} * 1000",
                title="{{limit}} period starts",
                text="{{provider}}/{{account}} {{limit}} {{resource}}",
                tag_keys="provider,account,limit",
                color="rgba(120, 120, 255, 0.6)",
                use_value_for_time=True,
            )
        ],
    )


# --- pools ------------------------------------------------------------------------------------


def pools(inputs: Inputs) -> Dashboard:
    """Shard pools: pool utilization and forecast, shards against the recommendation, shards."""
    pool = _matchers("provider", "group")
    pool_limit = _matchers("provider", "group", "limit")
    pool_legend = "{{provider}}/{{group}} {{limit}}"
    steps = inputs.percent_steps()
    target = inputs.pack.shard.target_utilization
    target_text = ""
    if target < inputs.warning:
        steps = [
            Threshold(None, "green"),
            Threshold(target, "yellow"),
            *steps[1:],
        ]
        target_text = f" Yellow from the shard rule's target utilization ({_pct(target)})."
    shard_util = (
        f"{PREFIX}utilization_ratio{_matchers('provider', 'account', 'limit')}"
        f" * on(provider, account) group_left(group) "
        f'{PREFIX}account_info{{group=~"$group", group!=""}}'
    )
    by_pool_limit = "provider, group, limit"
    pools_table = _table(
        "Pools",
        "Per pool: accounts in it, the shard count the binding limit recommends (the highest "
        "over the selected limits), and the highest pool and forecast utilization. "
        + _thresholds_text(inputs),
        "short",
        [
            (
                "shards",
                "Shards",
                _instant(f"max by (provider, group) ({PREFIX}pool_shards{pool})"),
                {"decimals": 0},
            ),
            (
                "recommended",
                "Recommended",
                _instant(f"max by (provider, group) ({PREFIX}pool_shards_recommended{pool_limit})"),
                {"decimals": 0},
            ),
            (
                "util",
                "Utilization",
                _instant(f"max by (provider, group) ({PREFIX}pool_utilization_ratio{pool_limit})"),
                _gauge_cell(inputs),
            ),
            (
                "forecast",
                "Forecast",
                _instant(
                    "max by (provider, group) "
                    f"({PREFIX}pool_forecast_utilization_ratio{pool_limit})"
                ),
                _colored_percent(inputs),
            ),
        ],
        keys=("provider", "group"),
        sort_by="Forecast",
        height=7,
    )
    per_limit = _table(
        "Pool limits",
        "Per pool and limit: utilization (total usage / total cap), forecast (projected peak / "
        "total cap) and the shards that limit alone would need; the limit with the most is the "
        "binding one. " + _thresholds_text(inputs),
        "percentunit",
        [
            (
                "util",
                "Utilization",
                _instant(f"max by ({by_pool_limit}) ({PREFIX}pool_utilization_ratio{pool_limit})"),
                _gauge_cell(inputs),
            ),
            (
                "forecast",
                "Forecast",
                _instant(
                    f"max by ({by_pool_limit}) "
                    f"({PREFIX}pool_forecast_utilization_ratio{pool_limit})"
                ),
                _colored_percent(inputs),
            ),
            (
                "recommended",
                "Recommended shards",
                _instant(f"max by ({by_pool_limit}) ({PREFIX}pool_shards_recommended{pool_limit})"),
                {"unit": "short", "decimals": 0},
            ),
        ],
        keys=("provider", "group", "limit"),
        sort_by="Recommended shards",
        height=9,
    )
    over_time = [
        _timeseries(
            "Pool utilization",
            "Total usage / total cap of each pool and limit over time. "
            + _thresholds_text(inputs)
            + target_text,
            "percentunit",
            [Target(f"{PREFIX}pool_utilization_ratio{pool_limit}", pool_legend)],
            thresholds=steps,
        ),
        _timeseries(
            "Pool forecast utilization",
            "Projected peak / total cap of each pool and limit over time. "
            + _thresholds_text(inputs)
            + target_text,
            "percentunit",
            [Target(f"{PREFIX}pool_forecast_utilization_ratio{pool_limit}", pool_legend)],
            thresholds=steps,
        ),
        _timeseries(
            "Shards against recommended",
            "Accounts in each pool (solid) and the shard count the binding limit recommends "
            "(dashed): ceil(projected peak / (cap per shard x target utilization "
            f"{_pct(target)})), from the shard rule.",
            "short",
            [
                Target(
                    f"max by (provider, group) ({PREFIX}pool_shards{pool})",
                    "{{provider}}/{{group}} shards",
                ),
                Target(
                    f"max by (provider, group) ({PREFIX}pool_shards_recommended{pool_limit})",
                    "{{provider}}/{{group}} recommended",
                ),
            ],
            decimals=0,
            overrides=[Override("byFrameRefID", "B", _DASHED)],
            width=24,
        ),
    ]
    shards = [
        Panel(
            "bargauge",
            "Shard utilization",
            "Usage / cap of each account in the selected pools now, hottest first. "
            + _thresholds_text(inputs),
            "percentunit",
            [
                Target(
                    f"sort_desc({shard_util})",
                    "{{group}}: {{account}} {{limit}} {{resource}}",
                    instant=True,
                )
            ],
            thresholds=inputs.percent_steps(),
            options=_BARGAUGE_OPTIONS,
            minimum=0,
            maximum=1,
            height=10,
        ),
        _timeseries(
            "Shard imbalance",
            "Per pool and limit, the hottest shard's utilization minus the coolest one's: a "
            "wide gap means the workload is not spread evenly over the accounts.",
            "percentunit",
            [
                Target(
                    f"max by ({by_pool_limit}) ({shard_util}) "
                    f"- min by ({by_pool_limit}) ({shard_util})",
                    pool_legend,
                )
            ],
        ),
        _timeseries(
            "Shard utilization over time",
            "Usage / cap of each account in the selected pools. " + _thresholds_text(inputs),
            "percentunit",
            [Target(shard_util, "{{group}}: {{account}} {{limit}} {{resource}}")],
            thresholds=inputs.percent_steps(),
            width=24,
        ),
    ]
    policy = Row(
        "Provider policy",
        [
            Panel(
                "text",
                "Multiple accounts per provider",
                "What each provider's terms say about holding several free accounts, from the "
                "collectors' catalogues; shard advice respects it.",
                "none",
                width=24,
                height=max(6, 2 + 3 * len(inputs.catalogues)),
                options={"mode": "markdown", "content": _policy_markdown(inputs)},
            )
        ],
        collapsed=True,
    )
    return Dashboard(
        uid=POOLS_UID,
        title="quota-watch / Shard pools",
        description="Accounts sharing a group: pool utilization and forecast per limit, shards "
        "against the recommended count, and each shard's share. Generated by "
        "`quota-watch dashboards export`.",
        tags=TAGS,
        variables=_variables(group=True),
        items=[
            Row("Pools", [pools_table, per_limit, *over_time]),
            Row("Shards", shards),
            policy,
        ],
    )


def _policy_markdown(inputs: Inputs) -> str:
    lines = ["| provider | multiple accounts | commercial use |", "| --- | --- | --- |"]
    for name, catalogue in sorted(inputs.catalogues.items()):
        policy = catalogue.provider.policy
        lines.append(
            f"| {_cell(catalogue.provider.title)} (`{name}`) | {policy.multi_account} "
            f"| {policy.commercial_use} |"
        )
    return "\n".join(lines) + "\n"


def build_all(inputs: Inputs) -> dict[str, dict[str, Any]]:
    """Every dashboard's JSON model by file name."""
    return {
        f"{board.uid}.json": board.to_json()
        for board in (overview(inputs), account(inputs), pools(inputs))
    }
