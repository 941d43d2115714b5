"""The command collector: runs the configured command each poll and reads usage from stdout."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel

from quota_watch.sdk import CollectContext, CollectorBase, LimitSpec, NoData, Reading
from quota_watch_collectors.command.options import CommandOptions
from quota_watch_collectors.command.output import parse_output
from quota_watch_collectors.command.runner import run_command

__all__ = ["CommandCollector"]


class CommandCollector(CollectorBase):
    """Any program or script: its stdout gives the readings of the limits declared for it."""

    name: ClassVar[str] = "command"
    Options: ClassVar[type[BaseModel]] = CommandOptions
    uses_network: ClassVar[bool] = False

    options: CommandOptions

    def declared_limits(self) -> dict[str, LimitSpec]:
        """The limits declared in `[accounts.options.limits]`."""
        return dict(self.options.limits)

    async def probe(self) -> None:
        """One run, its output checked like a poll's."""
        await self._readings()

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """One run; NoData when the command printed no reading."""
        readings = await self._readings()
        if not readings:
            raise NoData(f"command {self.options.program!r} printed no reading")
        return readings

    async def _readings(self) -> list[Reading]:
        stdout = await run_command(self.options)
        where = f"command {self.options.program!r}"
        return parse_output(stdout, self.options.output, self.options.limits, where)
