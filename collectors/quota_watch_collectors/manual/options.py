"""Options of the manual collector: the limits, each with an optional value from the config."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from quota_watch.sdk import LimitSpec, Scope, Unit, parse_quantity

__all__ = ["ManualLimit", "ManualOptions"]

_LIMIT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class ManualLimit(LimitSpec):
    """A limit declared in `[accounts.options.limits.<name>]`: a LimitSpec plus its value.

    With `value` the config is the limit's only source (and `resource` names it when the limit
    is per resource); without, values come from `quota-watch set`.
    """

    value: float | None = Field(default=None, description="the used amount, in the limit's unit")
    resource: str | None = Field(default=None, min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _parse_value(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        unit, value = data.get("unit"), data.get("value")
        if isinstance(value, str | int | float) and isinstance(unit, str) and unit in set(Unit):
            data = {**data, "value": parse_quantity(value, unit)}
        return data

    @model_validator(mode="after")
    def _check_resource(self) -> ManualLimit:
        if self.resource is not None and self.value is None:
            raise ValueError("resource names the config's value: give value too")
        if self.value is not None and (self.resource is None) != (self.scope is not Scope.RESOURCE):
            raise ValueError(
                "a value for a limit with scope 'resource' needs resource (and only then)"
            )
        return self


class ManualOptions(BaseModel):
    """`[accounts.options]` of a `manual` account."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    limits: dict[str, ManualLimit] = Field(
        min_length=1,
        description="one table per limit; with value the config sets it, without it "
        "`quota-watch set` does",
    )

    @field_validator("limits")
    @classmethod
    def _check_limit_names(cls, value: dict[str, ManualLimit]) -> dict[str, ManualLimit]:
        for name in value:
            if not _LIMIT_NAME.match(name):
                raise ValueError(
                    f"limit name {name!r}: use lowercase letters, digits and '_', "
                    "starting with a letter"
                )
        return value
