"""nesting_problem: a document deeper than the limit is refused, one at the limit is not."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from quota_watch.config.files import MAX_DEPTH, nesting_problem


def nested(levels: int, leaf: Any, kinds: str = "dlt") -> Any:
    """`leaf` inside `levels` containers, cycling through dict, list and tuple."""
    node = leaf
    for i in range(levels):
        kind = kinds[i % len(kinds)]
        node = {"k": node} if kind == "d" else [node] if kind == "l" else (node,)
    return node


@pytest.mark.parametrize("kinds", ["d", "l", "t", "dlt"])
def test_a_value_at_the_limit_passes_one_below_it_does_not(kinds: str) -> None:
    assert nesting_problem(nested(MAX_DEPTH, 1, kinds)) is None
    assert nesting_problem(nested(MAX_DEPTH + 1, 1, kinds)) == (
        f"nested too deeply (more than {MAX_DEPTH} levels of tables and arrays)"
    )


@pytest.mark.parametrize("empty", [{}, [], ()])
def test_an_empty_table_or_array_counts_as_a_value(empty: Any) -> None:
    assert nesting_problem(nested(MAX_DEPTH, empty)) is None
    assert nesting_problem(nested(MAX_DEPTH + 1, empty)) is not None


def test_any_mapping_is_a_table() -> None:
    deep = MappingProxyType({"a": nested(3, "x")})
    assert nesting_problem({"t": deep}, limit=5) is None
    assert nesting_problem({"t": deep}, limit=4) is not None


def test_the_deepest_branch_counts_and_plain_values_are_not_nested() -> None:
    document = {"a": 1, "b": "s", "c": [1.0, {"d": nested(6, True)}], "e": nested(2, None)}
    assert nesting_problem(document, limit=9) is None
    assert nesting_problem(document, limit=8) is not None
    assert nesting_problem("text", limit=0) is None
    assert nesting_problem({}, limit=0) is None
    assert nesting_problem({"a": 1}, limit=0) is not None
