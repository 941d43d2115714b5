"""Typed builders for Grafana dashboard JSON (schema 39): panels, rows, variables, layout."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

JSON = dict[str, Any]
SCHEMA_VERSION = 39
GRID_WIDTH = 24
DATASOURCE_VARIABLE = "datasource"
#: Every panel and query names its datasource through the dashboard's datasource variable, so
#: the JSON imports into any Grafana (Cloud included) without an __inputs section.
DATASOURCE: Mapping[str, str] = {"type": "prometheus", "uid": f"${{{DATASOURCE_VARIABLE}}}"}

PanelKind = Literal["timeseries", "table", "stat", "bargauge", "state-timeline", "text"]


@dataclass(frozen=True)
class Threshold:
    """One step of a threshold scale: from `value` on (None: the base), colour `color`."""

    value: float | None
    color: str


@dataclass(frozen=True)
class Target:
    """One PromQL query of a panel."""

    expr: str
    legend: str = ""
    instant: bool = False
    table: bool = False  # Grafana's "table" result format (one row per series, instant)

    def to_json(self, ref_id: str) -> JSON:
        """The query object, with its refId."""
        return {
            "datasource": dict(DATASOURCE),
            "editorMode": "code",
            "expr": self.expr,
            "format": "table" if self.table else "time_series",
            "instant": self.instant,
            "legendFormat": self.legend or "__auto",
            "range": not self.instant,
            "refId": ref_id,
        }


@dataclass(frozen=True)
class Override:
    """Field properties for the fields a matcher picks (byName, byRegex, byFrameRefID)."""

    matcher: Literal["byName", "byRegex", "byFrameRefID"]
    pattern: str
    properties: Mapping[str, Any]

    def to_json(self) -> JSON:
        """The fieldConfig.overrides entry."""
        return {
            "matcher": {"id": self.matcher, "options": self.pattern},
            "properties": [{"id": key, "value": value} for key, value in self.properties.items()],
        }


@dataclass(frozen=True)
class Panel:
    """A visualisation: kind, title, description, unit, queries, and its size in grid units."""

    kind: PanelKind
    title: str
    description: str
    unit: str
    targets: Sequence[Target] = ()
    width: int = 12
    height: int = 8
    thresholds: Sequence[Threshold] = ()
    minimum: float | None = None
    maximum: float | None = None
    decimals: int | None = None
    custom: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    overrides: Sequence[Override] = ()
    transformations: Sequence[Mapping[str, Any]] = ()
    mappings: Sequence[Mapping[str, Any]] = ()
    color_mode: str | None = None

    def to_json(self, panel_id: int, x: int, y: int) -> JSON:
        """The panel object at grid position (x, y)."""
        defaults: JSON = {
            "unit": self.unit,
            "custom": dict(self.custom),
            "mappings": [dict(m) for m in self.mappings],
        }
        if self.thresholds:
            defaults["thresholds"] = {
                "mode": "absolute",
                "steps": [{"color": t.color, "value": t.value} for t in self.thresholds],
            }
        if self.color_mode is not None:
            defaults["color"] = {"mode": self.color_mode}
        for key, value in (("min", self.minimum), ("max", self.maximum)):
            if value is not None:
                defaults[key] = value
        if self.decimals is not None:
            defaults["decimals"] = self.decimals
        panel: JSON = {
            "id": panel_id,
            "type": self.kind,
            "title": self.title,
            "description": self.description,
            "gridPos": {"x": x, "y": y, "w": self.width, "h": self.height},
            "fieldConfig": {
                "defaults": defaults,
                "overrides": [o.to_json() for o in self.overrides],
            },
            "options": dict(self.options),
        }
        if self.kind != "text":
            panel["datasource"] = dict(DATASOURCE)
            panel["targets"] = [t.to_json(ref_id(index)) for index, t in enumerate(self.targets)]
        if self.transformations:
            panel["transformations"] = [dict(t) for t in self.transformations]
        return panel


def ref_id(index: int) -> str:
    """A, B, ... Z, AA, AB, ...: Grafana's own refId sequence."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


@dataclass(frozen=True)
class Row:
    """A titled group of panels; a collapsed row carries its panels inside it."""

    title: str
    panels: Sequence[Panel]
    collapsed: bool = False


@dataclass(frozen=True)
class QueryVariable:
    """A template variable filled by `label_values(selector, label)` from Prometheus."""

    name: str
    label: str
    selector: str
    label_name: str
    description: str
    multi: bool = True
    include_all: bool = True

    @property
    def query(self) -> str:
        """The Grafana query: label_values(<selector>, <label>)."""
        return f"label_values({self.selector}, {self.label_name})"

    def to_json(self) -> JSON:
        """The templating.list entry (defaults to All)."""
        return {
            "type": "query",
            "name": self.name,
            "label": self.label,
            "description": self.description,
            "datasource": dict(DATASOURCE),
            "definition": self.query,
            "query": {"query": self.query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
            "refresh": 2,  # on time-range change: accounts come and go
            "regex": "",
            "sort": 1,
            "multi": self.multi,
            "includeAll": self.include_all,
            "allValue": ".*" if self.include_all else None,
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]}
            if self.include_all
            else {},
            "options": [],
            "hide": 0,
            "skipUrlSync": False,
        }


def datasource_variable() -> JSON:
    """The `datasource` variable: any Prometheus datasource, the default one first."""
    return {
        "type": "datasource",
        "name": DATASOURCE_VARIABLE,
        "label": "Data source",
        "description": "The Prometheus that scrapes quota-watch's /metrics.",
        "query": "prometheus",
        "regex": "",
        "refresh": 1,
        "multi": False,
        "includeAll": False,
        "current": {},
        "options": [],
        "hide": 0,
        "skipUrlSync": False,
    }


@dataclass(frozen=True)
class Annotation:
    """Events from a PromQL query: one mark wherever the expression has a sample."""

    name: str
    expr: str
    title: str
    text: str
    tag_keys: str
    color: str
    use_value_for_time: bool = False  # the sample value (ms) is the event's time

    def to_json(self) -> JSON:
        """The annotations.list entry."""
        return {
            "name": self.name,
            "datasource": dict(DATASOURCE),
            "enable": True,
            "hide": False,
            "iconColor": self.color,
            "expr": self.expr,
            "step": "1m",
            "titleFormat": self.title,
            "textFormat": self.text,
            "tagKeys": self.tag_keys,
            "useValueForTime": self.use_value_for_time,
        }


def _builtin_annotation() -> JSON:
    """Grafana's own annotations and alerts (kept, as Grafana adds it back otherwise)."""
    return {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }


@dataclass(frozen=True)
class Dashboard:
    """A whole dashboard: fixed uid, variables, annotations, and panels or rows in order."""

    uid: str
    title: str
    description: str
    tags: Sequence[str]
    variables: Sequence[QueryVariable]
    items: Sequence[Panel | Row]
    annotations: Sequence[Annotation] = ()
    time_from: str = "now-7d"
    refresh: str = "1m"

    def to_json(self) -> JSON:
        """The dashboard model, laid out left to right, top to bottom on Grafana's 24-wide grid."""
        layout = _Layout()
        panels: list[JSON] = []
        for item in self.items:
            if isinstance(item, Row):
                row = layout.row(item)
                panels.append(row)
                if item.collapsed:
                    row["panels"] = [layout.place(p) for p in item.panels]
                else:
                    panels.extend(layout.place(p) for p in item.panels)
            else:
                panels.append(layout.place(item))
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": list(self.tags),
            "schemaVersion": SCHEMA_VERSION,
            "version": 1,
            "editable": True,
            "graphTooltip": 1,  # shared crosshair
            "fiscalYearStartMonth": 0,
            "liveNow": False,
            "refresh": self.refresh,
            "time": {"from": self.time_from, "to": "now"},
            "timepicker": {},
            "timezone": "utc",
            "weekStart": "",
            "annotations": {
                "list": [_builtin_annotation(), *(a.to_json() for a in self.annotations)]
            },
            "links": [
                {
                    "type": "dashboards",
                    "title": "quota-watch",
                    "tags": ["quota-watch"],
                    "asDropdown": True,
                    "includeVars": True,
                    "keepTime": True,
                    "targetBlank": False,
                    "icon": "external link",
                    "tooltip": "",
                    "url": "",
                }
            ],
            "templating": {"list": [datasource_variable(), *(v.to_json() for v in self.variables)]},
            "panels": panels,
        }


class _Layout:
    """Places panels on the grid in order, wrapping at 24 columns; numbers them from 1."""

    def __init__(self) -> None:
        self.x = 0
        self.y = 0
        self.line_height = 0
        self.next_id = 1

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def _new_line(self) -> None:
        self.y += self.line_height
        self.x = 0
        self.line_height = 0

    def row(self, row: Row) -> JSON:
        """A row panel across the full width, below everything placed so far."""
        self._new_line()
        placed: JSON = {
            "id": self._id(),
            "type": "row",
            "title": row.title,
            "collapsed": row.collapsed,
            "gridPos": {"x": 0, "y": self.y, "w": GRID_WIDTH, "h": 1},
            "panels": [],
        }
        self.y += 1
        return placed

    def place(self, panel: Panel) -> JSON:
        """The panel at the next free slot."""
        if not 0 < panel.width <= GRID_WIDTH:
            raise ValueError(f"panel {panel.title!r}: width must be 1-{GRID_WIDTH}")
        if self.x + panel.width > GRID_WIDTH:
            self._new_line()
        placed = panel.to_json(self._id(), self.x, self.y)
        self.x += panel.width
        self.line_height = max(self.line_height, panel.height)
        return placed


def percent_thresholds(warning: float, critical: float) -> list[Threshold]:
    """Green below `warning`, orange from it, red from `critical` (ratios of the cap)."""
    return [Threshold(None, "green"), Threshold(warning, "orange"), Threshold(critical, "red")]
