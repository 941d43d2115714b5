"""The page's inline SVG sparkline geometry."""

from __future__ import annotations

from quota_watch.web.sparkline import HEIGHT, sparkline_path


def points(path: str) -> list[tuple[str, float, float]]:
    import re

    return [(m[0], float(m[1]), float(m[2])) for m in re.findall(r"([ML])([\d.]+) ([\d.]+)", path)]


def test_nothing_to_draw() -> None:
    assert sparkline_path([], 10) == ""
    assert sparkline_path([None, None], 10) == ""


def test_scaled_from_zero_to_the_cap() -> None:
    found = points(sparkline_path([0.0, 5.0, 10.0, 20.0], 10.0))
    ys = [y for _, _, y in found]
    assert ys[0] == HEIGHT - 2  # zero on the bottom edge (inside the padding)
    assert ys[2] == ys[3] == 2.0  # the cap and above it on the top edge
    assert ys[1] == (ys[0] + ys[2]) / 2
    xs = [x for _, x, _ in found]
    assert xs == sorted(xs)


def test_without_a_cap_the_largest_value_is_the_top() -> None:
    ys = [y for _, _, y in points(sparkline_path([1.0, 4.0], None))]
    assert ys == [HEIGHT - 2 - 0.25 * (HEIGHT - 4), 2.0]


def test_a_missing_day_breaks_the_line_and_a_lone_day_is_a_dot() -> None:
    path = sparkline_path([1.0, 2.0, None, 3.0], 4.0)
    assert [m for m, _, _ in points(path)] == ["M", "L", "M"]
    assert path.endswith("h0.01")
