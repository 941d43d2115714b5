"""Pieces the dashboards share: label matchers, panel defaults, and table/timeseries builders."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from quota_watch.prometheus import names
from quota_watch.prometheus.dashboards.inputs import Inputs
from quota_watch.prometheus.dashboards.model import (
    Override,
    Panel,
    QueryVariable,
    Target,
    Threshold,
    ref_id,
)
from quota_watch.sdk import Unit

TAGS = ("quota-watch",)
DAY = 86400.0

#: One value column of a merged table: (name, title, query, field properties).
Column = tuple[str, str, Target, Mapping[str, Any]]


def matchers(*labels: str, extra: str = "") -> str:
    """`{label=~"$label", ...}`: each label filtered by the template variable of its name."""
    parts = [f'{label}=~"${label}"' for label in labels]
    if extra:
        parts.append(extra)
    return "{" + ", ".join(parts) + "}"


SERIES = matchers("provider", "account", "limit")
ACCOUNTS = matchers("provider", "account")
SERIES_LABELS = "provider, account, limit, resource"
SERIES_LEGEND = "{{provider}}/{{account}} {{limit}} {{resource}}"
ACCOUNT_LEGEND = "{{provider}}/{{account}}"
SERIES_KEYS = ("provider", "account", "limit", "resource")


def series(metric: str) -> str:
    """One value per series of `metric` (max over scrape targets), labels reduced to the series."""
    return f"max by ({SERIES_LABELS}) ({metric}{SERIES})"


def per_account(metric: str) -> str:
    """One value per account of `metric` (max over scrape targets)."""
    return f"max by (provider, account) ({metric}{ACCOUNTS})"


TIMESERIES_CUSTOM: Mapping[str, Any] = {
    "drawStyle": "line",
    "lineInterpolation": "stepAfter",  # readings hold until the next poll
    "lineWidth": 1,
    "fillOpacity": 0,
    "showPoints": "never",
    "spanNulls": False,
    "axisSoftMin": 0,
    "thresholdsStyle": {"mode": "off"},
}
TIMESERIES_OPTIONS: Mapping[str, Any] = {
    "legend": {
        "displayMode": "table",
        "placement": "bottom",
        "showLegend": True,
        "calcs": ["lastNotNull", "max"],
    },
    "tooltip": {"mode": "multi", "sort": "desc"},
}
TABLE_CUSTOM: Mapping[str, Any] = {
    "align": "auto",
    "cellOptions": {"type": "auto"},
    "inspect": False,
}
STAT_OPTIONS: Mapping[str, Any] = {
    "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
    "colorMode": "background",
    "graphMode": "none",
    "justifyMode": "auto",
    "orientation": "auto",
    "textMode": "auto",
}
BARGAUGE_OPTIONS: Mapping[str, Any] = {
    "displayMode": "gradient",
    "orientation": "horizontal",
    "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
    "showUnfilled": True,
    "valueMode": "color",
    "namePlacement": "left",
    "minVizHeight": 16,
    "maxVizHeight": 24,
}
SUCCESS_MAPPING: Mapping[str, Any] = {
    "type": "value",
    "options": {
        "0": {"text": "failing", "color": "red", "index": 1},
        "1": {"text": "ok", "color": "green", "index": 0},
    },
}
AUTH_MAPPING: Mapping[str, Any] = {
    "type": "value",
    "options": {
        "0": {"text": "accepted", "color": "green", "index": 0},
        "1": {"text": "rejected", "color": "red", "index": 1},
    },
}
DASHED = {"custom.lineStyle": {"fill": "dash", "dash": [10, 10]}}


def timeseries(
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
    """A time series panel, 9 high, step lines; `thresholds` also shade the graph."""
    custom = dict(TIMESERIES_CUSTOM)
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
        options=TIMESERIES_OPTIONS,
        overrides=overrides,
        decimals=decimals,
        color_mode="palette-classic",
    )


def table(
    title: str,
    description: str,
    unit: str,
    columns: Sequence[Column],
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
        custom=TABLE_CUSTOM,
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


def instant(expr: str) -> Target:
    """An instant query in Grafana's table format (one row per series)."""
    return Target(expr, instant=True, table=True)


def gauge_cell(inputs: Inputs) -> dict[str, Any]:
    """Field properties of a utilization column drawn as a gauge in the rule pack's colours."""
    return {
        "unit": "percentunit",
        "min": 0,
        "max": 1,
        "thresholds": steps_json(inputs.percent_steps()),
        "color": {"mode": "thresholds"},
        "custom.cellOptions": {"type": "gauge", "mode": "basic", "valueDisplayMode": "text"},
    }


def colored_percent(inputs: Inputs) -> dict[str, Any]:
    """Field properties of a utilization column as text in the rule pack's colours."""
    return {
        "unit": "percentunit",
        "thresholds": steps_json(inputs.percent_steps()),
        "color": {"mode": "thresholds"},
        "custom.cellOptions": {"type": "color-text"},
    }


def steps_json(steps: Sequence[Threshold]) -> dict[str, Any]:
    """A field config's `thresholds` value for `steps`."""
    return {"mode": "absolute", "steps": [{"color": s.color, "value": s.value} for s in steps]}


def pct(ratio: float) -> str:
    """A ratio as a percentage for descriptions ("80 %")."""
    return f"{ratio * 100:g} %"


def thresholds_text(inputs: Inputs) -> str:
    """The sentence explaining where the colours' thresholds come from."""
    return (
        f"Colours follow the rule pack: warning at {pct(inputs.warning)}, critical at "
        f"{pct(inputs.critical)} of the cap (per-limit [[rules]] overrides are not reflected)."
    )


def cell(text: str) -> str:
    """`text` safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def variables(*, group: bool = False) -> list[QueryVariable]:
    """Provider, (pool,) account and limit variables, each filtered by the ones before it."""
    info = names.ACCOUNT_INFO
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
    usage_any = '__name__=~"' + "|".join(names.usage_metric(unit.value) for unit in Unit) + '"'
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
