"""Checks of terminal output fitted to a width: no line longer, no word broken."""

from __future__ import annotations

import re

ANSI = re.compile(r"\x1b\[[0-9;]*m")
WIDTHS = (80, 100, 160)
"""The widths every human view is rendered at in the tests."""


def assert_fits(text: str, width: int, wide: str) -> None:
    """Every line of `text` is at most `width` cells (colour escapes aside) and every word in it
    is a whole word of `wide`, the same output rendered with room to spare: a word broken in two
    would leave pieces that `wide` does not have."""
    plain = ANSI.sub("", text)
    long = [line for line in plain.splitlines() if len(line) > width]
    assert not long, f"{len(long)} line(s) over {width} columns:\n" + "\n".join(long)
    words = set(ANSI.sub("", wide).split())
    broken = sorted({w for w in plain.split() if w not in words})
    assert not broken, f"words broken or invented at {width} columns: {broken}\n{plain}"
