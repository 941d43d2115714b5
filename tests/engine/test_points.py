"""Packed points read exactly as the (datetime, float) pairs the rules were written against."""

from __future__ import annotations

from array import array
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quota_watch.engine.forecast import MAX_FIT_POINTS, Fit, fit_trend, theil_sen
from quota_watch.engine.points import Points, from_micros, to_micros
from quota_watch.engine.signals import settle

START = datetime(2026, 11, 1, tzinfo=UTC)

Pairs = list[tuple[datetime, float]]

# Sorted series with repeats allowed in time steps of whole seconds to sub-second microseconds,
# values with falls, glitches and resets.
pairs_strategy = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=3_600_000_000),
        st.floats(min_value=-1e6, max_value=1e9, allow_nan=False),
    ),
    max_size=60,
).map(lambda found: sorted((START + timedelta(microseconds=m), v) for m, v in found))


def interpolate_reference(points: Pairs, moment: datetime) -> float | None:
    """The interpolation the forecast used before points were packed."""
    if not points or moment < points[0][0] or moment > points[-1][0]:
        return None
    for (t0, v0), (t1, v1) in pairwise(points):
        if t0 <= moment <= t1:
            return v0 if t1 == t0 else v0 + (v1 - v0) * ((moment - t0) / (t1 - t0))
    return points[-1][1]


def settle_reference(points: Pairs) -> Pairs:
    """`settle` as it was written on pairs."""
    kept: Pairs = []

    def below(value: float, reference: float) -> bool:
        return value < reference - 1e-9 * max(1.0, abs(reference))

    for index, (ts, value) in enumerate(points):
        if not kept or not below(value, kept[-1][1]):
            kept.append((ts, value))
            continue
        if len(kept) >= 2 and not below(value, kept[-2][1]):
            kept[-1] = (ts, value)
            continue
        if index + 1 == len(points) or not below(points[index + 1][1], kept[-1][1]):
            continue
        previous = kept[-1][1]
        kept = [] if value < previous / 2 else [(t, v - (previous - value)) for t, v in kept]
        kept.append((ts, value))
    return kept


def test_micros_round_trip_and_ignore_the_zone_a_moment_is_written_in() -> None:
    moment = datetime(2026, 11, 1, 12, 30, 0, 123_456, tzinfo=UTC)
    assert from_micros(to_micros(moment)) == moment
    assert to_micros(moment.astimezone(datetime.now().astimezone().tzinfo)) == to_micros(moment)
    assert from_micros(to_micros(moment)).tzinfo is UTC


@given(pairs_strategy)
def test_packed_points_read_as_their_pairs(pairs: Pairs) -> None:
    points = Points.of(pairs)
    assert list(points) == pairs
    assert points == pairs and points == Points.of(pairs)
    assert len(points) == len(pairs) and bool(points) == bool(pairs)
    if pairs:
        assert points[-1] == pairs[-1] and points[0] == pairs[0]
        assert points[1:] == pairs[1:]


def test_points_of_unsorted_pairs_sort_them_stably_by_time() -> None:
    a, b = START, START + timedelta(minutes=1)
    assert list(Points.of([(b, 2.0), (a, 1.0), (b, 3.0)])) == [(a, 1.0), (b, 2.0), (b, 3.0)]
    assert Points.of([(a, 1.0)]) != [(a, 1.5)] and Points.of([(a, 1.0)]) != "x"


@settings(max_examples=200)
@given(pairs_strategy, st.integers(min_value=-10, max_value=3_600_000_010))
def test_cuts_and_interpolation_match_the_pairs(pairs: Pairs, offset: int) -> None:
    points = Points.of(pairs)
    moment = START + timedelta(microseconds=offset)
    micros = to_micros(moment)
    assert points.cut(micros) == [p for p in pairs if p[0] >= moment]
    assert points.cut(None, micros) == [p for p in pairs if p[0] < moment]
    assert points.through(micros) == [p for p in pairs if p[0] <= moment]
    assert points.value_around(micros) == interpolate_reference(pairs, moment)
    # every sample's own moment too: interpolated to, as the scan of pairs does
    for ts, _ in pairs[:5]:
        assert points.value_around(to_micros(ts)) == interpolate_reference(pairs, ts)


@settings(max_examples=300)
@given(pairs_strategy)
def test_settle_on_packed_points_is_settle_on_pairs(pairs: Pairs) -> None:
    assert list(settle(Points.of(pairs))) == settle_reference(pairs)


@given(pairs_strategy.filter(lambda pairs: len(pairs) >= 2))
def test_fit_residuals_are_the_values_less_the_trend_at_each_time(pairs: Pairs) -> None:
    fit = fit_trend(Points.of(pairs))
    if fit is None:
        assert len({ts for ts, _ in pairs}) == 1
        return
    residuals = fit.residuals(Points.of(pairs))
    assert residuals == [value - fit.value_at(ts) for ts, value in pairs]


def fit_reference(points: Pairs) -> Fit | None:
    """`fit_trend` as it was written on pairs (thinned to MAX_FIT_POINTS, seconds from the
    first point used)."""
    if len(points) < 2:
        return None
    used = points
    if len(points) > MAX_FIT_POINTS:
        last = len(points) - 1
        indexes = sorted({round(i * last / (MAX_FIT_POINTS - 1)) for i in range(MAX_FIT_POINTS)})
        used = [points[i] for i in indexes]
    origin = used[0][0]
    line = theil_sen([(ts - origin).total_seconds() for ts, _ in used], [v for _, v in used])
    if line is None:
        return None
    slope, intercept = line
    at = points[-1][0]
    return Fit(at, intercept + slope * (at - origin).total_seconds(), slope, len(points))


@settings(max_examples=50)
@given(
    st.lists(
        st.tuples(st.integers(0, 10**11), st.floats(0, 1e9, allow_nan=False)),
        min_size=2,
        max_size=400,
    ).map(lambda found: sorted((START + timedelta(microseconds=m), v) for m, v in found))
)
def test_a_fit_on_packed_points_is_the_fit_on_pairs(pairs: Pairs) -> None:
    assert fit_trend(Points.of(pairs)) == fit_reference(pairs)


def test_shifted_points_move_in_time_only() -> None:
    points = Points.of([(START, 1.0), (START + timedelta(hours=1), 2.0)])
    day = timedelta(days=1)
    assert points.shifted(to_micros(START + day) - to_micros(START)) == [
        (START + day, 1.0),
        (START + day + timedelta(hours=1), 2.0),
    ]


def test_packed_arrays_must_be_the_same_length() -> None:
    with pytest.raises(ValueError, match="same length"):
        Points(array("q", [1, 2]), array("d", [1.0]))
