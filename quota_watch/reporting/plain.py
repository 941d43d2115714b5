"""The plain aligned-text table of rows (collect --once, report without a terminal)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from quota_watch.status.rows import Row
from quota_watch.units import human

if TYPE_CHECKING:
    pass


def _when(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "-"
    seconds = (moment - now).total_seconds()
    span = abs(seconds)
    for suffix, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if span >= size:
            text = f"{span / size:.0f}{suffix}"
            break
    else:
        text = f"{span:.0f}s"
    return f"in {text}" if seconds >= 0 else f"{text} ago"


def to_table(rows: Sequence[Row], now: datetime) -> str:
    """A plain-text table, one line per row."""
    header = (
        "STATUS",
        "PROVIDER",
        "ACCOUNT",
        "LIMIT",
        "RESOURCE",
        "USED",
        "CAP",
        "USE%",
        "FORECAST",
        "FULL",
        "RESETS",
    )
    lines = [header]
    for r in rows:
        lines.append(
            (
                r.status,
                r.provider,
                r.account,
                r.limit,
                r.resource or "-",
                human(r.value, r.unit),
                human(r.cap, r.unit),
                "-" if r.utilization is None else f"{r.utilization:.1%}",
                "-" if r.forecast_utilization is None else f"{r.forecast_utilization:.0%}",
                _when(r.exhausts_at, now),
                _when(r.resets_at, now),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    right = {5, 6, 7, 8}
    out = []
    for line in lines:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(line)
        ]
        out.append("  ".join(cells).rstrip())
    if not rows:
        out.append("(no readings yet: is the daemon running? try `quota-watch collect --once`)")
    return "\n".join(out)
