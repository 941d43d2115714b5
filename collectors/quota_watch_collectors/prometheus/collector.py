"""The prometheus collector: each declared limit's value and cap from PromQL instant queries."""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

from quota_watch.sdk import (
    CollectContext,
    CollectorBase,
    LimitSpec,
    NoData,
    Reading,
    UnexpectedResponse,
)
from quota_watch_collectors.prometheus.client import instant_query
from quota_watch_collectors.prometheus.models import QueryData, Sample
from quota_watch_collectors.prometheus.options import PrometheusOptions, QueriedLimit

__all__ = ["PrometheusCollector"]

log = logging.getLogger(__name__)

# A query's result as numbers: resource label value (None: the single unlabelled value) -> value.
Values = dict[str | None, float]


class _Result:
    """Turns one query's `data` into numbers, raising UnexpectedResponse on what cannot be one."""

    def __init__(self, limit: str, what: str, query: str) -> None:
        self.where = f"limit {limit!r}: {what} {query!r}"

    def fail(self, problem: str) -> UnexpectedResponse:
        return UnexpectedResponse(f"{self.where} {problem}")

    def number(self, text: str) -> float | None:
        """A sample value; None for NaN (PromQL's "undefined", e.g. 0/0)."""
        try:
            number = float(text)
        except ValueError:
            raise self.fail("returned a value that is not a number") from None
        if math.isnan(number):
            return None
        if not math.isfinite(number) or number < 0:
            raise self.fail(f"returned {text}, expected a finite number >= 0")
        return number

    def values(self, data: QueryData, label: str | None) -> Values:
        """The result's values by resource (an empty dict: no data)."""
        if data.result_type == "scalar":
            if label is not None:
                raise self.fail(f"returned a scalar; resource_label {label!r} needs a vector")
            point = self._pair(data.result)
            number = self.number(point[1])
            return {} if number is None else {None: number}
        if data.result_type != "vector":
            hint = " (wrap a range selector in e.g. max_over_time)" * (data.result_type == "matrix")
            raise self.fail(f"returned a {data.result_type}, expected an instant vector{hint}")
        samples = self._samples(data.result)
        if label is None:
            if len(samples) > 1:
                raise self.fail(
                    f"returned {len(samples)} series; aggregate them (e.g. sum(...)) "
                    "or set resource_label"
                )
            number = self.number(samples[0].value[1]) if samples else None
            return {} if number is None else {None: number}
        found: Values = {}
        for sample in samples:
            resource = sample.metric.get(label)
            if not resource:
                raise self.fail(f"returned a series without the label {label!r}")
            if resource in found:
                raise self.fail(f"returned two series with {label}={resource!r}")
            number = self.number(sample.value[1])
            if number is not None:
                found[resource] = number
        return found

    def scaled(self, values: Values, scale: float) -> Values:
        """`values` times `scale`, refusing what overflows."""
        scaled = {key: value * scale for key, value in values.items()}
        if not all(math.isfinite(value) for value in scaled.values()):
            raise self.fail(f"returned a value that overflows when scaled by {scale:g}")
        return scaled

    def _pair(self, raw: Any) -> tuple[float, str]:
        try:
            return Sample.model_validate({"metric": {}, "value": raw}).value
        except ValidationError:
            raise self.fail("returned a malformed scalar") from None

    def _samples(self, raw: Any) -> list[Sample]:
        if not isinstance(raw, list):
            raise self.fail("returned a vector that is not a list")
        try:
            return [Sample.model_validate(item) for item in raw]
        except ValidationError:
            raise self.fail("returned a malformed vector sample") from None


class PrometheusCollector(CollectorBase):
    """Any Prometheus-compatible API: limits declared in the options, read with PromQL."""

    name: ClassVar[str] = "prometheus"
    Options: ClassVar[type[BaseModel]] = PrometheusOptions

    options: PrometheusOptions

    def declared_limits(self) -> dict[str, LimitSpec]:
        """The limits declared in `[accounts.options.limits]`."""
        return {name: decl.spec() for name, decl in self.options.limits.items()}

    async def probe(self) -> None:
        """Every declared query once: credentials, reachability and result shapes."""
        await self._readings(datetime.now(UTC))

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """One instant query per declared query; NoData when every query came back empty."""
        readings, empty = await self._readings(ctx.now)
        if not readings:
            raise NoData(f"no query returned a value (empty: {', '.join(empty)})")
        if empty:
            log.info("%s: queries without a value: %s", ctx.account, ", ".join(empty))
        return readings

    async def _readings(self, now: datetime) -> tuple[list[Reading], list[str]]:
        readings: list[Reading] = []
        empty: list[str] = []
        for name, decl in self.options.limits.items():
            values = await self._values(name, decl, now)
            if not values:
                empty.append(name)
                continue
            caps = await self._caps(name, decl, now)
            for resource, value in values.items():
                cap = caps.get(resource, caps.get(None))
                readings.append(Reading(name, value, resource=resource, cap=cap))
        return readings, empty

    async def _values(self, name: str, decl: QueriedLimit, now: datetime) -> Values:
        if decl.query is None:
            assert decl.value is not None  # the options' validator guarantees one of the two
            return {None: decl.value}
        data = await instant_query(self.client, self.options, decl.query, now=now, where=name)
        result = _Result(name, "query", decl.query)
        return result.scaled(result.values(data, decl.resource_label), decl.scale)

    async def _caps(self, name: str, decl: QueriedLimit, now: datetime) -> Values:
        if decl.cap_query is None:
            return {}
        where = f"{name} cap"
        data = await instant_query(self.client, self.options, decl.cap_query, now=now, where=where)
        result = _Result(name, "cap_query", decl.cap_query)
        # A cap query may name each resource like the value query, or be one shared figure.
        label = decl.resource_label
        shared = label is None or data.result_type != "vector" or _unlabelled(data, label)
        return result.scaled(result.values(data, None if shared else label), decl.scale)


def _unlabelled(data: QueryData, label: str) -> bool:
    """Whether a vector is at most one series lacking `label` (a cap shared by every resource)."""
    raw = data.result
    if not isinstance(raw, list) or len(raw) > 1:
        return False
    return all(isinstance(item, dict) and label not in item.get("metric", {}) for item in raw)
