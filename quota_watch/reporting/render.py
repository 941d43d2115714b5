"""The report's formats: a terminal table (quota_watch.reporting.terminal: fitted to the width, in
colour on a terminal, plain text otherwise), JSON, CSV and GitHub-flavoured Markdown."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from quota_watch.reporting.entries import Entry, grouped
from quota_watch.reporting.sparkline import sparkline
from quota_watch.reporting.terminal import Column, Screen, TableRow
from quota_watch.status.rows import COLLECT_KEYS
from quota_watch.units import iso_z, percent, relative, rounded_span, used_of_cap

__all__ = [
    "JSON_KEYS",
    "bar",
    "cells",
    "status_label",
    "to_csv",
    "to_json",
    "to_markdown",
    "to_table",
    "until",
    "write_advice",
]

JSON_KEYS = (
    *COLLECT_KEYS[:2],  # provider, account
    "group",
    *COLLECT_KEYS[2:-1],  # limit ... period_end
    "status",
    "forecast_value",
    "forecast_utilization",
    "exhausts_at",
    "resets_at",
    "as_of",
    "sparkline",
    "period_zone",
    "provider_forecast",
    "display_unit",
    "silenced",
    "forecast_points",
    "forecast_note",
)
"""The keys of a JSON object and the CSV columns, in order."""

PROVIDER_MARK = "*"
"""After a FORECAST cell whose figure is the provider's own forecast, not the trend's."""

BAR_WIDTH = 12
_EIGHTHS = " ▏▎▍▌▋▊▉"
_FULL = "█"
_EMPTY = "░"
_NO_DATA = "(no readings yet: is the daemon running? try `quota-watch collect --once`)"
_EMOJI = {
    "critical": "🔴",
    "warning": "🟠",
    "stale": "⚪",
    "unknown": "❔",
    "ok": "🟢",
}
_COLOUR = {
    "critical": "bold red",
    "warning": "yellow",
    "stale": "magenta",
    "unknown": "dim",
    "ok": "green",
}


def bar(utilization: float | None, width: int = BAR_WIDTH) -> str:
    """A usage bar of `width` cells in eighths of a block, the rest shaded; blank without a
    cap. Above 100 % the bar is full."""
    if utilization is None or math.isnan(utilization):
        return " " * width
    eighths = round(min(max(utilization, 0.0), 1.0) * width * 8)
    full, part = divmod(eighths, 8)
    cells = _FULL * full + (_EIGHTHS[part] if part else "")
    return cells + _EMPTY * (width - len(cells))


def _until(moment: datetime | None, now: datetime) -> str:
    """One decimal under ten units: "in 1.5h", "3d ago"; "now" at the very moment."""
    return relative(
        moment,
        now,
        span=partial(rounded_span, tenths_below=10.0),
        now_below=timedelta.resolution,
    )


def _limit_label(entry: Entry) -> str:
    r = entry.row
    return r.limit if r.resource is None else f"{r.limit}[{r.resource}]"


def _trend(entry: Entry) -> str:
    cap = entry.row.cap
    return sparkline(entry.trend, low=0.0 if cap else None, high=cap if cap else None)


def status_label(entry: Entry) -> str:
    """The status as the human formats show it: "warning", "ok (silenced)"."""
    return f"{entry.row.status} (silenced)" if entry.row.silenced else entry.row.status


def _cells(entry: Entry, now: datetime) -> dict[str, str]:
    r = entry.row
    return {
        "status": status_label(entry),
        "limit": _limit_label(entry),
        "usage": bar(r.utilization),
        "used": used_of_cap(r.value, r.cap, r.unit, r.display_unit),
        "use": percent(r.utilization, 1),
        "forecast": percent(r.forecast_utilization)
        + (PROVIDER_MARK if r.provider_forecast is not None and r.forecast_utilization else ""),
        "resets": _until(r.resets_at, now),
        "full": _until(r.exhausts_at, now),
        "trend": _trend(entry),
        "source": r.cap_source if r.cap is not None else "-",
    }


_COLUMNS = (
    Column("status", "STATUS", wrap=True),
    Column("provider", "PROVIDER", drop=9),
    Column("account", "ACCOUNT"),
    Column("pool", "POOL", drop=7),
    Column("limit", "LIMIT"),
    Column("usage", "USAGE", drop=5),
    Column("used", "USED / CAP", right=True, wrap=True),
    Column("use", "USE%", right=True),
    Column("forecast", "FORECAST", right=True, drop=4),
    Column("resets", "RESETS", right=True, drop=3),
    Column("full", "FULL", right=True, drop=2),
    Column("trend", "LAST 15 DAYS", drop=8),
    Column("source", "CAP SOURCE", drop=10),
)
"""The table's columns; POOL only when an account has one, LAST 15 DAYS only with a trend.
A narrow terminal drops CAP SOURCE first, then PROVIDER, the trend, POOL, the bar, FORECAST,
RESETS and FULL."""


def _table_rows(entries: Sequence[Entry], now: datetime) -> list[TableRow]:
    """Per account, its rows; provider, account and pool only on its first row, a blank line
    after its last."""
    rows = []
    for block in grouped(entries):
        for index, entry in enumerate(block):
            cells = _cells(entry, now)
            first = index == 0
            cells["provider"] = entry.row.provider if first else ""
            cells["account"] = entry.row.account if first else ""
            cells["pool"] = (entry.group or "-") if first else ""
            style = _COLOUR.get(entry.row.status, "")
            styles = {"status": style, "usage": style, "provider": "bold", "account": "bold"}
            rows.append(TableRow(cells, styles, end_section=index == len(block) - 1))
    return rows


def _columns(entries: Sequence[Entry]) -> list[Column]:
    with_pool = any(e.group is not None for e in entries)
    with_trend = any(e.trend for e in entries)
    return [
        c for c in _COLUMNS if (c.key != "pool" or with_pool) and (c.key != "trend" or with_trend)
    ]


def write_advice(screen: Screen, advice: Sequence[str], heading: str = "Advice:") -> None:
    """The advice under `heading`, each paragraph wrapped with a hanging indent."""
    if not advice:
        return
    screen.line()
    screen.line(heading, "bold")
    for line in advice:
        screen.paragraph(line, first="  - ", rest="    ")


def to_table(
    entries: Sequence[Entry],
    now: datetime,
    advice: Sequence[str] = (),
    *,
    width: int | None = None,
    colour: bool = False,
) -> str:
    """The terminal table fitted to `width` (the terminal's when None): one line per series
    grouped by account, status and bar coloured when `colour` (else plain text), then the
    advice wrapped with a hanging indent."""
    screen = Screen(width=width, colour=colour)
    screen.table(_columns(entries), _table_rows(entries, now))
    if not entries:
        screen.paragraph(_NO_DATA)
    write_advice(screen, advice)
    return screen.text()


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_z(value)
    return value


def _record(entry: Entry) -> dict[str, Any]:
    # getattr, not dataclasses.asdict: asdict deep-copies every field (~0.1 ms a row).
    extra: dict[str, Any] = {"group": entry.group, "sparkline": list(entry.trend)}
    return {
        key: _json_value(extra[key] if key in extra else getattr(entry.row, key))
        for key in JSON_KEYS
    }


def to_json(entries: Sequence[Entry], advice: Sequence[str] = ()) -> str:
    """A JSON array, one object per series riskiest first (advice is left out: the array stays
    an array; `quota-watch plan --format json` carries it)."""
    del advice
    return json.dumps([_record(e) for e in entries], indent=2)


def to_csv(entries: Sequence[Entry], advice: Sequence[str] = ()) -> str:
    """RFC 4180 CSV: a header row and one row per series; the sparkline as daily maxima
    separated by spaces (empty for a day without data)."""
    del advice
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(JSON_KEYS)
    for entry in entries:
        record = _record(entry)
        record["sparkline"] = " ".join("" if v is None else repr(v) for v in entry.trend)
        writer.writerow([_csv_cell(record[k]) for k in JSON_KEYS])
    return buffer.getvalue()


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"  # as in the JSON
    return value


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`")


def to_markdown(entries: Sequence[Entry], now: datetime, advice: Sequence[str] = ()) -> str:
    """A GitHub-flavoured Markdown table (status emoji and word, human units), then the
    advice as a list under an "Advice" heading."""
    with_pool = any(e.group is not None for e in entries)
    header = ["Status", "Provider", "Account", *(["Pool"] if with_pool else []), "Limit"]
    header += ["Used / cap", "Use", "Forecast", "Resets", "Full", "Last 15 days", "Cap source"]
    align = ["---"] * 4 + (["---"] if with_pool else []) + ["--:"] * 5 + ["---", "---"]
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    for block in grouped(entries):
        for entry in block:
            cells = _cells(entry, now)
            row = [
                f"{_EMOJI.get(entry.row.status, '')} {status_label(entry)}",
                _md(entry.row.provider),
                _md(entry.row.account),
                *([_md(entry.group or "-")] if with_pool else []),
                _md(cells["limit"]),
                cells["used"],
                cells["use"],
                cells["forecast"],
                cells["resets"],
                cells["full"],
                f"`{cells['trend']}`" if cells["trend"].strip() else "-",
                _md(cells["source"]),
            ]
            out.append("| " + " | ".join(row) + " |")
    if not entries:
        out.append("")
        out.append("_No readings yet: is the daemon running? Try `quota-watch collect --once`._")
    if advice:
        out += ["", "### Advice", "", *(f"- {_md(line)}" for line in advice)]
    return "\n".join(out) + "\n"


def cells(entry: Entry, now: datetime) -> dict[str, str]:
    """The report's formatted cells of one entry (status, limit, usage, used, use, forecast,
    resets, full, trend, source): the status page shows the same text."""
    return _cells(entry, now)


def until(moment: datetime | None, now: datetime) -> str:
    """A moment relative to `now` as the report writes it ("in 1.5h", "3d ago", "-")."""
    return _until(moment, now)
