"""The geometry of a small inline SVG sparkline: the report's daily maxima as path data."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["HEIGHT", "WIDTH", "sparkline_path"]

WIDTH = 90
HEIGHT = 22
_PAD = 2.0


def sparkline_path(values: Sequence[float | None], cap: float | None) -> str:
    """SVG path data for `values` (oldest first) scaled from 0 to the cap (or to the largest
    value without one); a day without data breaks the line, a lone day is a dot (a
    zero-length segment drawn with round caps); "" when there is nothing to draw."""
    known = [v for v in values if v is not None]
    if not known:
        return ""
    top = cap if cap else max(known)
    step = (WIDTH - 2 * _PAD) / max(len(values) - 1, 1)
    span = HEIGHT - 2 * _PAD
    parts: list[str] = []
    previous: float | None = None
    for index, value in enumerate(values):
        if value is None:
            previous = None
            continue
        ratio = min(max(value / top, 0.0), 1.0) if top > 0 else 0.0
        x = _PAD + index * step
        y = HEIGHT - _PAD - ratio * span
        if previous is None:
            parts.append(f"M{x:.1f} {y:.1f}")
            following = values[index + 1] if index + 1 < len(values) else None
            if following is None:
                parts.append("h0.01")
        else:
            parts.append(f"L{x:.1f} {y:.1f}")
        previous = value
    return "".join(parts)
