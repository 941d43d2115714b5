"""The documented JSON output of a command: a list of readings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

__all__ = ["PrintedReading"]

# A number in the limit's base unit, or a quantity string such as "3 GB" or "90s".
Amount = StrictInt | StrictFloat | StrictStr


class PrintedReading(BaseModel):
    """One element of the JSON list a command prints."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: StrictStr
    value: Amount
    cap: Amount | None = None
    resource: StrictStr | None = Field(default=None, min_length=1)
