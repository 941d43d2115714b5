"""The report's formats: a terminal table (rich, in colour) or plain aligned text, JSON, CSV
and GitHub-flavoured Markdown."""

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
from quota_watch.status.rows import COLLECT_KEYS
from quota_watch.units import human, iso_z, percent, relative, rounded_span

__all__ = [
    "JSON_KEYS",
    "bar",
    "to_csv",
    "to_json",
    "to_markdown",
    "to_rich",
    "to_text",
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
    "forecast_points",
    "forecast_note",
)
"""The keys of a JSON object and the CSV columns, in order."""

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


def _cells(entry: Entry, now: datetime) -> dict[str, str]:
    r = entry.row
    return {
        "status": r.status,
        "limit": _limit_label(entry),
        "usage": bar(r.utilization),
        "used": f"{human(r.value, r.unit)} / {human(r.cap, r.unit)}",
        "use": percent(r.utilization, 1),
        "forecast": percent(r.forecast_utilization),
        "resets": _until(r.resets_at, now),
        "full": _until(r.exhausts_at, now),
        "trend": _trend(entry),
        "source": r.cap_source if r.cap is not None else "-",
    }


_COLUMNS = (
    ("status", "STATUS", False),
    ("provider", "PROVIDER", False),
    ("account", "ACCOUNT", False),
    ("pool", "POOL", False),
    ("limit", "LIMIT", False),
    ("usage", "USAGE", False),
    ("used", "USED / CAP", True),
    ("use", "USE%", True),
    ("forecast", "FORECAST", True),
    ("resets", "RESETS", True),
    ("full", "FULL", True),
    ("trend", "LAST 15 DAYS", False),
    ("source", "CAP SOURCE", False),
)
"""(key, header, right-aligned) of the table's columns; POOL only when an account has one."""


def _table_lines(entries: Sequence[Entry], now: datetime) -> list[list[tuple[str, dict[str, str]]]]:
    """Per account, its rows as cells; provider, account and pool only on its first row."""
    blocks = []
    for block in grouped(entries):
        rows: list[tuple[str, dict[str, str]]] = []
        for index, entry in enumerate(block):
            cells = _cells(entry, now)
            first = index == 0
            cells["provider"] = entry.row.provider if first else ""
            cells["account"] = entry.row.account if first else ""
            cells["pool"] = (entry.group or "-") if first else ""
            rows.append((entry.row.status, cells))
        blocks.append(rows)
    return blocks


def _columns(entries: Sequence[Entry]) -> list[tuple[str, str, bool]]:
    with_pool = any(e.group is not None for e in entries)
    return [c for c in _COLUMNS if c[0] != "pool" or with_pool]


def _advice_text(advice: Sequence[str]) -> list[str]:
    return ["", "Advice:", *(f"  - {line}" for line in advice)] if advice else []


def to_text(entries: Sequence[Entry], now: datetime, advice: Sequence[str] = ()) -> str:
    """Plain aligned text, no colour: one line per series, a blank line between accounts."""
    columns = _columns(entries)
    blocks = _table_lines(entries, now)
    widths = {
        key: max([len(title), *(len(cells[key]) for block in blocks for _, cells in block)])
        for key, title, _right in columns
    }
    header = "  ".join(
        title.rjust(widths[key]) if right else title.ljust(widths[key])
        for key, title, right in columns
    )
    out = [header.rstrip()]
    for number, block in enumerate(blocks):
        if number:
            out.append("")
        for _status, cells in block:
            line = "  ".join(
                cells[key].rjust(widths[key]) if right else cells[key].ljust(widths[key])
                for key, _title, right in columns
            )
            out.append(line.rstrip())
    if not entries:
        out.append(_NO_DATA)
    out.extend(_advice_text(advice))
    return "\n".join(out)


def to_rich(
    entries: Sequence[Entry], now: datetime, advice: Sequence[str] = (), *, width: int | None = None
) -> str:
    """A terminal table in colour (rich, with ANSI escapes): the bar and status coloured by
    status, a rule between accounts."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold", pad_edge=False, show_edge=False)
    columns = _columns(entries)
    for key, title, right in columns:
        table.add_column(
            title, justify="right" if right else "left", no_wrap=key in ("usage", "trend")
        )
    for block in _table_lines(entries, now):
        for index, (status, cells) in enumerate(block):
            style = _COLOUR.get(status, "")
            row = []
            for key, _title, _right in columns:
                if key in ("status", "usage"):
                    row.append(Text(cells[key], style=style))
                elif key in ("provider", "account"):
                    row.append(Text(cells[key], style="bold"))
                else:
                    row.append(Text(cells[key]))
            table.add_row(*row, end_section=index == len(block) - 1)
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=width or 200, color_system="standard")
    console.print(table)
    if not entries:
        console.print(_NO_DATA)
    if advice:
        console.print()
        console.print(Text("Advice", style="bold"))
        for line in advice:
            console.print(Text(f"  - {line}"))
    return buffer.getvalue().rstrip("\n")


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
        writer.writerow(["" if record[k] is None else record[k] for k in JSON_KEYS])
    return buffer.getvalue()


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
                f"{_EMOJI.get(entry.row.status, '')} {entry.row.status}",
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
