"""Reading a command's stdout: the JSON list or `LIMIT VALUE [CAP]` lines, into Readings."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping

from pydantic import ValidationError

from quota_watch.sdk import LimitSpec, Reading, Scope, UnexpectedResponse, parse_quantity
from quota_watch_collectors.command.models import PrintedReading

__all__ = ["parse_output"]

_MAX_SHOWN = 40  # characters of a bad token quoted in a message


def _shown(text: str) -> str:
    return repr(text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "...")


class _Parser:
    """Checks each printed reading against the declared limits."""

    def __init__(self, where: str, limits: Mapping[str, LimitSpec]) -> None:
        self.where = where
        self.limits = limits

    def fail(self, at: str, problem: str) -> UnexpectedResponse:
        return UnexpectedResponse(f"{self.where}: {at}: {problem}")

    def amount(self, raw: int | float | str, spec: LimitSpec, at: str, field: str) -> float:
        try:
            number = parse_quantity(raw, spec.unit)
        except ValueError:
            raise self.fail(
                at, f"{field} {_shown(str(raw))} is not a {spec.unit.value} quantity"
            ) from None
        if not math.isfinite(number):
            raise self.fail(at, f"{field} is not finite")
        return number

    def reading(
        self,
        limit: str,
        value: int | float | str,
        cap: int | float | str | None,
        resource: str | None,
        at: str,
    ) -> Reading:
        spec = self.limits.get(limit)
        if spec is None:
            declared = ", ".join(sorted(self.limits))
            raise self.fail(at, f"limit {_shown(limit)} is not declared (declared: {declared})")
        if (resource is None) != (spec.scope is not Scope.RESOURCE):
            need = "needs a resource" if resource is None else "is per account: no resource"
            raise self.fail(at, f"limit {limit!r} {need}")
        return Reading(
            limit,
            self.amount(value, spec, at, "value"),
            resource=resource,
            cap=None if cap is None else self.amount(cap, spec, at, "cap"),
        )

    def json_readings(self, stdout: bytes) -> Iterator[Reading]:
        try:
            document = json.loads(stdout)
        except (ValueError, UnicodeDecodeError):
            raise self.fail("stdout", f"not JSON ({len(stdout)} bytes)") from None
        if not isinstance(document, list):
            raise self.fail("stdout", "expected a JSON list of {limit, value, cap?, resource?}")
        for index, item in enumerate(document):
            at = f"element {index}"
            try:
                printed = PrintedReading.model_validate(item)
            except ValidationError as exc:
                fields = ", ".join(
                    ".".join(str(p) for p in e["loc"]) or "<element>" for e in exc.errors()
                )
                # Without the input: the element may hold anything.
                raise self.fail(at, f"invalid field(s): {fields}") from None
            yield self.reading(printed.limit, printed.value, printed.cap, printed.resource, at)

    def line_readings(self, stdout: bytes) -> Iterator[Reading]:
        try:
            text = stdout.decode()
        except UnicodeDecodeError:
            raise self.fail("stdout", "not UTF-8 text") from None
        for number, line in enumerate(text.splitlines(), start=1):
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            at = f"line {number}"
            if len(fields) not in (2, 3):
                raise self.fail(at, f"expected 'LIMIT VALUE [CAP]', got {len(fields)} fields")
            cap = fields[2] if len(fields) == 3 else None
            yield self.reading(fields[0], fields[1], cap, None, at)


def parse_output(
    stdout: bytes, output: str, limits: Mapping[str, LimitSpec], where: str
) -> list[Reading]:
    """The readings `stdout` holds; UnexpectedResponse naming the element or line at fault."""
    parser = _Parser(where, limits)
    found = parser.json_readings(stdout) if output == "json" else parser.line_readings(stdout)
    readings: list[Reading] = []
    seen: set[tuple[str, str | None]] = set()
    for reading in found:
        key = (reading.limit, reading.resource)
        if key in seen:
            what = (
                reading.limit if reading.resource is None else f"{reading.limit}/{reading.resource}"
            )
            raise UnexpectedResponse(f"{where}: {what} printed twice")
        seen.add(key)
        readings.append(reading)
    return readings
