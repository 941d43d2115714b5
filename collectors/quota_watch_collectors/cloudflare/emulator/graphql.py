"""A GraphQL subset: the query documents the cloudflare collector sends, parsed into fields."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Field", "GraphQLSyntaxError", "Variable", "parse_graphql", "resolve"]


class GraphQLSyntaxError(ValueError):
    """The query text is outside the GraphQL subset the emulator reads."""


@dataclass(frozen=True)
class Variable:
    """A `$name` reference in an argument."""

    name: str


@dataclass(frozen=True)
class Field:
    """One field of a selection set: alias, name, arguments and sub-selection."""

    alias: str
    name: str
    arguments: Mapping[str, Any]
    selections: tuple[Field, ...]


_TOKEN = re.compile(
    r"""(?P<skip>[\s,]+|\#[^\n]*)
      | (?P<spread>\.\.\.)
      | (?P<punct>[{}()\[\]:!$=@|])
      | (?P<name>[_A-Za-z][_0-9A-Za-z]*)
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
      | (?P<string>"(?:[^"\\\n]|\\.)*")""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise GraphQLSyntaxError(f"Syntax Error: unexpected character {text[position]!r}")
        kind = match.lastgroup or ""
        if kind != "skip":
            found.append((kind, match.group()))
        position = match.end()
    return found


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.index = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.index] if self.index < len(self.tokens) else ("eof", "")

    def take(self, value: str | None = None, kind: str | None = None) -> str:
        token_kind, token = self.peek()
        if (value is not None and token != value) or (kind is not None and token_kind != kind):
            wanted = value or kind
            raise GraphQLSyntaxError(f"Syntax Error: expected {wanted}, found {token or 'EOF'!r}")
        self.index += 1
        return token

    def accept(self, value: str) -> bool:
        if self.peek()[1] == value and self.peek()[0] != "string":
            self.index += 1
            return True
        return False

    def operations(self) -> dict[str | None, tuple[Field, ...]]:
        found: dict[str | None, tuple[Field, ...]] = {}
        while self.peek()[0] != "eof":
            name: str | None = None
            if self.peek()[1] == "{":
                found[None] = self.selection_set()
                continue
            keyword = self.take(kind="name")
            if keyword != "query":
                raise GraphQLSyntaxError(f"Syntax Error: {keyword!r} operations are not served")
            if self.peek()[0] == "name":
                name = self.take()
            if self.accept("("):
                depth = 1
                while depth:  # variable definitions: their types are not checked
                    token = self.take()
                    depth += {"(": 1, ")": -1}.get(token, 0)
            found[name] = self.selection_set()
        if not found:
            raise GraphQLSyntaxError("Syntax Error: no operation in the document")
        return found

    def selection_set(self) -> tuple[Field, ...]:
        self.take("{")
        fields: list[Field] = []
        while not self.accept("}"):
            if self.peek()[0] == "spread":
                raise GraphQLSyntaxError("Syntax Error: fragments are not served")
            fields.append(self.field())
        return tuple(fields)

    def field(self) -> Field:
        alias = name = self.take(kind="name")
        if self.accept(":"):
            name = self.take(kind="name")
        arguments: dict[str, Any] = {}
        if self.accept("("):
            while not self.accept(")"):
                key = self.take(kind="name")
                self.take(":")
                arguments[key] = self.value()
        if self.peek()[1] == "@":
            raise GraphQLSyntaxError("Syntax Error: directives are not served")
        selections = self.selection_set() if self.peek()[1] == "{" else ()
        return Field(alias, name, arguments, selections)

    def value(self) -> Any:
        kind, token = self.peek()
        if kind == "string":
            self.index += 1
            return json.loads(token)
        if kind == "number":
            self.index += 1
            return float(token) if any(c in token for c in ".eE") else int(token)
        if self.accept("$"):
            return Variable(self.take(kind="name"))
        if self.accept("{"):
            members: dict[str, Any] = {}
            while not self.accept("}"):
                key = self.take(kind="name")
                self.take(":")
                members[key] = self.value()
            return members
        if self.accept("["):
            items: list[Any] = []
            while not self.accept("]"):
                items.append(self.value())
            return items
        if kind == "name":
            self.index += 1
            return {"true": True, "false": False, "null": None}.get(token, token)
        raise GraphQLSyntaxError(f"Syntax Error: unexpected {token or 'EOF'!r}")


def parse_graphql(text: str, operation: str | None = None) -> tuple[Field, ...]:
    """The root selection of `operation` (or of the document's only operation)."""
    operations = _Parser(text).operations()
    if operation is not None and operation in operations:
        return operations[operation]
    if len(operations) == 1:
        return next(iter(operations.values()))
    raise GraphQLSyntaxError(f"unknown operation named {operation!r}")


def resolve(value: Any, variables: Mapping[str, Any]) -> Any:
    """`value` with every `$name` reference replaced by that variable's value (None if unset)."""
    if isinstance(value, Variable):
        return variables.get(value.name)
    if isinstance(value, dict):
        return {k: resolve(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, variables) for v in value]
    return value
