"""The plain aligned-text table of rows (collect --once, report without a terminal)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from quota_watch.status.rows import Row
from quota_watch.units import human, percent, relative

if TYPE_CHECKING:
    pass


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
                percent(r.utilization, 1),
                percent(r.forecast_utilization),
                relative(r.exhausts_at, now),
                relative(r.resets_at, now),
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
