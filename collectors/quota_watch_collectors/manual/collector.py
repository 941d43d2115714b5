"""The manual collector: readings declared in the config or set by hand with `quota-watch set`."""

from __future__ import annotations

import logging
from typing import ClassVar

from pydantic import BaseModel

from quota_watch.sdk import (
    SET_VALUES_KEY,
    CollectContext,
    CollectorBase,
    LimitSpec,
    Measure,
    NoData,
    Reading,
    Scope,
    SetValue,
    UnexpectedResponse,
    set_values,
)
from quota_watch_collectors.manual.options import ManualOptions

__all__ = ["ManualCollector"]

log = logging.getLogger(__name__)


class ManualCollector(CollectorBase):
    """Services with no usage API: each limit's value comes from the config or from a person."""

    name: ClassVar[str] = "manual"
    Options: ClassVar[type[BaseModel]] = ManualOptions
    uses_network: ClassVar[bool] = False
    settable: ClassVar[bool] = True

    options: ManualOptions

    def declared_limits(self) -> dict[str, LimitSpec]:
        """The limits declared in `[accounts.options.limits]`."""
        return {name: decl.spec() for name, decl in self.options.limits.items()}

    def accept_set(self, value: SetValue) -> None:
        """Refuse what the config decides (a limit with a value) or the limit's scope forbids."""
        decl = self.options.limits.get(value.limit)
        if decl is None:
            declared = ", ".join(sorted(self.options.limits))
            raise ValueError(f"no limit {value.limit!r} in this account (declared: {declared})")
        if decl.value is not None:
            raise ValueError(
                f"limit {value.limit!r} has its value in the config; change it there, or remove "
                "`value` from the config to set it by hand"
            )
        if decl.scope is Scope.RESOURCE and value.resource is None:
            raise ValueError(f"limit {value.limit!r} is per resource: give --resource")
        if decl.scope is not Scope.RESOURCE and value.resource is not None:
            raise ValueError(f"limit {value.limit!r} is per account: --resource does not apply")

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """The config's values and the current values set by hand; NoData when there are none."""
        readings = [
            Reading(name, decl.value, resource=decl.resource)
            for name, decl in self.options.limits.items()
            if decl.value is not None
        ]
        kept = self._current_set_values(ctx)
        ctx.state[SET_VALUES_KEY] = [v.to_json() for v in kept]
        readings += [Reading(v.limit, v.value, resource=v.resource, cap=v.cap) for v in kept]
        if not readings:
            unset = ", ".join(sorted(self.options.limits))
            raise NoData(f"nothing set yet for {unset} (quota-watch set ACCOUNT LIMIT VALUE)")
        return readings

    def _current_set_values(self, ctx: CollectContext) -> list[SetValue]:
        """The set values that still apply: declared, settable, and (cumulative) this period's."""
        try:
            stored = set_values(ctx.state)
        except ValueError as exc:
            raise UnexpectedResponse(
                f"the account's stored set values are unreadable: {exc}"
            ) from None
        kept: list[SetValue] = []
        for value in stored:
            try:
                self.accept_set(value)
            except ValueError as exc:
                log.info("%s: dropping the value set for %s: %s", ctx.account, value.limit, exc)
                continue
            decl = self.options.limits[value.limit]
            period = ctx.periods.get(value.limit)
            start = None if period is None else period.start
            if decl.measure is Measure.CUMULATIVE and start is not None and value.at < start:
                log.info(
                    "%s: %s was set in an earlier period; unset until set again",
                    ctx.account,
                    value.limit,
                )
                continue
            kept.append(value)
        return kept
