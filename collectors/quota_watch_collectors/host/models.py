"""Persistent state of the host collector's monthly egress accounting (kept in ctx.state)."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = ["EgressState"]


class EgressState(BaseModel):
    """Month total of transmitted bytes and the counters it was last advanced from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    month_start: AwareDatetime = Field(description="start of the month `total` belongs to")
    total: int = Field(ge=0, description="bytes transmitted in that month so far")
    counting_since: AwareDatetime = Field(
        description="from when `total` is complete: month start, boot, or the first poll"
    )
    boot_id: str | None = Field(description="kernel boot id at the last poll")
    counters: dict[str, int] = Field(description="last tx_bytes of each counted interface")
    present: list[str] = Field(description="every interface of /proc/net/dev at the last poll")
