"""List the metric names a PromQL expression reads (a tokenizer, not a full parser)."""

from __future__ import annotations

import re

__all__ = ["PromQLError", "metric_names"]


class PromQLError(ValueError):
    """The expression cannot be tokenized: an unterminated string or unbalanced brackets."""


# Words that are never metric names in PromQL: aggregation operators, binary operators,
# vector-matching and grouping keywords, modifiers, and number literals.
_KEYWORDS = frozenset(
    {
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
        "limit_ratio",
        "and",
        "or",
        "unless",
        "atan2",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "offset",
        "inf",
        "nan",
    }
)
# Keywords followed by a parenthesised list of label names, not an expression.
_LABEL_LIST_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})

_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_NUMBER = re.compile(
    r"0[xX][0-9a-fA-F]+|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?(?:[a-zA-Z]+[0-9]*)*"
)
# Grafana template variables: $name, ${name...}, [[name]].
_VARIABLE = re.compile(r"\$\{[^}]*\}|\$[A-Za-z0-9_]+|\[\[[^\]]*\]\]")
_LABEL_NAME = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!=|!~|=)\s*")
_CLOSERS = {"(": ")", "[": "]", "{": "}"}


def _string_end(expr: str, start: int) -> int:
    """Index just past the string literal opening at `start`."""
    quote = expr[start]
    i = start + 1
    while i < len(expr):
        char = expr[i]
        if char == "\\" and quote != "`":
            i += 2
            continue
        if char == quote:
            return i + 1
        i += 1
    raise PromQLError(f"unterminated string starting at offset {start}")


def _skip_space(expr: str, i: int) -> int:
    while i < len(expr) and expr[i].isspace():
        i += 1
    return i


def _matching(expr: str, start: int) -> int:
    """Index just past the bracket matching the one at `start` (strings skipped)."""
    stack = [_CLOSERS[expr[start]]]
    i = start + 1
    while i < len(expr):
        char = expr[i]
        if char in "\"'`":
            i = _string_end(expr, i)
            continue
        if char in _CLOSERS:
            stack.append(_CLOSERS[char])
        elif char in ")]}":
            if char != stack.pop():
                raise PromQLError(f"unbalanced {char!r} at offset {i}")
            if not stack:
                return i + 1
        i += 1
    raise PromQLError(f"unclosed {expr[start]!r} at offset {start}")


def _name_matchers(body: str) -> list[str]:
    """Metric names given as `__name__="..."` inside a selector's braces."""
    found: list[str] = []
    i = 0
    while i < len(body):
        match = _LABEL_NAME.match(body, i)
        if match is None:
            break
        i = match.end()
        if i >= len(body) or body[i] not in "\"'`":
            break
        end = _string_end(body, i)
        if match.group(1) == "__name__" and match.group(2) == "=":
            found.append(body[i + 1 : end - 1])
        i = _skip_space(body, end)
        if i < len(body) and body[i] == ",":
            i += 1
    return found


def metric_names(expr: str) -> list[str]:
    """The metric names `expr` selects, in order of first use, each once.

    Function names, keywords, label names (in selectors and in by/on/... lists), strings,
    durations, numbers and Grafana template variables are not metric names. A regex on
    `__name__` selects no fixed name and is not listed. Raises PromQLError on an unterminated
    string or unbalanced brackets.
    """
    found: dict[str, None] = {}
    i = 0
    expect_label_list = False
    open_parens: list[int] = []  # offsets of the "(" not closed yet
    while i < len(expr):
        char = expr[i]
        if char.isspace():
            i += 1
            continue
        if char == "#":  # a comment runs to the end of the line
            newline = expr.find("\n", i)
            i = len(expr) if newline < 0 else newline + 1
            continue
        if char in "\"'`":
            i = _string_end(expr, i)
            continue
        variable = _VARIABLE.match(expr, i)
        if variable is not None:
            i = variable.end()
            continue
        if char == "{":
            end = _matching(expr, i)
            found.update(dict.fromkeys(_name_matchers(expr[i + 1 : end - 1])))
            i = end
            continue
        if char == "[":  # a range or subquery: durations and steps only
            i = _matching(expr, i)
            continue
        if char == "(" and expect_label_list:
            i = _matching(expr, i)
            expect_label_list = False
            continue
        if char == "(":
            open_parens.append(i)
            i += 1
            continue
        if char == ")" and open_parens:
            open_parens.pop()
            i += 1
            continue
        if char in ")]}":
            raise PromQLError(f"unbalanced {char!r} at offset {i}")
        number = _NUMBER.match(expr, i)
        if number is not None and (char.isdigit() or char == "."):
            i = number.end()
            continue
        ident = _IDENT.match(expr, i)
        if ident is None:
            i += 1  # an operator or punctuation
            continue
        word = ident.group()
        i = ident.end()
        lowered = word.lower()
        if lowered in _LABEL_LIST_KEYWORDS:
            expect_label_list = True
            continue
        expect_label_list = False
        following = _skip_space(expr, i)
        is_call = following < len(expr) and expr[following] == "("
        if lowered in _KEYWORDS or is_call:
            continue
        found[word] = None
    if open_parens:
        raise PromQLError(f"unclosed '(' at offset {open_parens[-1]}")
    return list(found)
