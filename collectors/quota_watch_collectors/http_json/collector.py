"""The http_json collector: one JSON request per poll, limits picked out with JMESPath."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult
from pydantic import BaseModel

from quota_watch.sdk import (
    CollectContext,
    CollectorBase,
    LimitSpec,
    Reading,
    UnexpectedResponse,
)
from quota_watch_collectors.http_json.client import Prepared, fetch_json, prepare
from quota_watch_collectors.http_json.options import DeclaredLimit, HttpJsonOptions

if TYPE_CHECKING:
    import httpx

__all__ = ["HttpJsonCollector"]


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A declared limit with its JMESPath expressions compiled once."""

    name: str
    decl: DeclaredLimit
    value: ParsedResult
    cap: ParsedResult | None
    for_each: ParsedResult | None
    resource: ParsedResult | None

    @classmethod
    def of(cls, name: str, decl: DeclaredLimit) -> _Compiled:
        def compile_(expr: str | None) -> ParsedResult | None:
            return None if expr is None else jmespath.compile(expr)

        return cls(
            name,
            decl,
            jmespath.compile(decl.value),
            compile_(decl.cap_path),
            compile_(decl.for_each),
            compile_(decl.resource),
        )


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class _Mapper:
    """Evaluates one limit's expressions on a document, raising UnexpectedResponse on drift."""

    def __init__(self, limit: _Compiled, options: HttpJsonOptions) -> None:
        self.limit = limit
        self._options = options

    @property
    def where(self) -> str:
        """The request, for messages (built only when one is needed: URL parsing is not free)."""
        return f"{self._options.method} {self._options.display_url}"

    def fail(self, what: str, expression: str, got: str, element: int | None = None) -> NoReturn:
        at = "" if element is None else f" in element {element} of for_each"
        raise UnexpectedResponse(
            f"{self.where}: limit {self.limit.name!r}: {what} {expression!r}{at} returned {got}"
        )

    def search(self, compiled: ParsedResult, data: Any, what: str, element: int | None) -> Any:
        try:
            return compiled.search(data)
        except JMESPathError as exc:
            error = type(exc).__name__
        # Outside the except clause: the JMESPath message quotes payload values.
        self.fail(what, compiled.expression, f"an error ({error})", element)

    def number(self, compiled: ParsedResult, data: Any, what: str, element: int | None) -> float:
        found = self.search(compiled, data, what, element)
        if isinstance(found, bool) or not isinstance(found, int | float):
            self.fail(what, compiled.expression, f"{_kind(found)}, expected a number", element)
        try:
            number = float(found) * self.limit.decl.scale
        except OverflowError:  # an integer beyond float range
            number = math.inf
        if not math.isfinite(number) or number < 0:
            got = "a number out of range, expected a finite number >= 0"
            self.fail(what, compiled.expression, got, element)
        return number

    def reading(self, data: Any, element: int | None = None) -> Reading:
        limit = self.limit
        value = self.number(limit.value, data, "value", element)
        cap = None if limit.cap is None else self.number(limit.cap, data, "cap_path", element)
        resource: str | None = None
        if limit.resource is not None:
            found = self.search(limit.resource, data, "resource", element)
            if isinstance(found, bool) or not isinstance(found, str | int) or found == "":
                self.fail(
                    "resource",
                    limit.resource.expression,
                    f"{_kind(found) if found != '' else 'an empty string'}, "
                    "expected a string or integer",
                    element,
                )
            resource = str(found)
        return Reading(limit.name, value, resource=resource, cap=cap)

    def readings(self, document: Any) -> list[Reading]:
        limit = self.limit
        if limit.for_each is None:
            return [self.reading(document)]
        items = self.search(limit.for_each, document, "for_each", None)
        if not isinstance(items, list):
            self.fail("for_each", limit.for_each.expression, f"{_kind(items)}, expected a list")
        if len(items) > self._options.max_elements:
            # One reading, one series and one /metrics line per element: a runaway list must
            # not grow the store and the exposition without bound.
            self.fail(
                "for_each",
                limit.for_each.expression,
                f"{len(items)} elements, more than max_elements = {self._options.max_elements}",
            )
        readings = [self.reading(item, index) for index, item in enumerate(items)]
        seen: set[str | None] = set()
        for reading in readings:
            if reading.resource in seen:
                raise UnexpectedResponse(
                    f"{self.where}: limit {limit.name!r}: resource {reading.resource!r} "
                    "appears twice in the for_each list"
                )
            seen.add(reading.resource)
        return readings


class HttpJsonCollector(CollectorBase):
    """Any JSON endpoint: values picked with JMESPath, limits declared in the account's options."""

    name: ClassVar[str] = "http_json"
    Options: ClassVar[type[BaseModel]] = HttpJsonOptions

    options: HttpJsonOptions

    def __init__(
        self,
        options: HttpJsonOptions,
        client: httpx.AsyncClient,
        limits: Mapping[str, LimitSpec] | None = None,
    ) -> None:
        super().__init__(options, client, limits)
        self._mappers = [
            _Mapper(_Compiled.of(name, decl), options) for name, decl in options.limits.items()
        ]
        self._request: Prepared | None = None  # at the first request: builds need no httpx

    def declared_limits(self) -> dict[str, LimitSpec]:
        """The limits declared in `[accounts.options.limits]`."""
        return {name: decl.spec() for name, decl in self.options.limits.items()}

    async def probe(self) -> None:
        """One request, and every declared expression evaluated on its response."""
        document = await fetch_json(
            self.client, self.options, now=datetime.now(UTC), prepared=self._prepared()
        )
        self._map(document)

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """One request; one reading per limit, or per element of its for_each list."""
        document = await fetch_json(
            self.client, self.options, now=ctx.now, prepared=self._prepared()
        )
        return self._map(document)

    def _prepared(self) -> Prepared:
        if self._request is None:
            self._request = prepare(self.options)
        return self._request

    def _map(self, document: Any) -> list[Reading]:
        readings: list[Reading] = []
        for mapper in self._mappers:
            readings.extend(mapper.readings(document))
        return readings
