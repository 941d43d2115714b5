"""Sparklines: a row of block characters, one per value."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["BLOCKS", "sparkline"]

BLOCKS = "▁▂▃▄▅▆▇█"
_GAP = " "


def sparkline(
    values: Sequence[float | None], *, low: float | None = None, high: float | None = None
) -> str:
    """One block per value, scaled between `low` and `high` (default: the values' own range);
    None (no data) is a space. A flat series sits on the lowest block unless it is at `high`."""
    known = [v for v in values if v is not None and math.isfinite(v)]
    if not known:
        return _GAP * len(values)
    bottom = min(known) if low is None else low
    top = max(known) if high is None else high
    span = top - bottom
    out = []
    for value in values:
        if value is None or not math.isfinite(value):
            out.append(_GAP)
            continue
        if span <= 0:
            out.append(BLOCKS[-1] if high is not None and value >= top else BLOCKS[0])
            continue
        share = min(max((value - bottom) / span, 0.0), 1.0)
        out.append(BLOCKS[min(int(share * len(BLOCKS)), len(BLOCKS) - 1)])
    return "".join(out)
