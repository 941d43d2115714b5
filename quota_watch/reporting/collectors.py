"""`collectors list` as text: each collector's provider and policy, then its limits' table."""

from __future__ import annotations

from collections.abc import Iterable

from quota_watch.collect.registry import CollectorInfo
from quota_watch.reporting.terminal import Column

__all__ = ["describe_text"]


_COLUMNS = (
    Column("limit", "LIMIT"),
    Column("measure", "MEASURE", drop=2),
    Column("period", "PERIOD", drop=1),
    Column("cap", "CAP", right=True, wrap=True),
    Column("unit", "UNIT", drop=3),
)
"""A narrow terminal drops PERIOD first, then MEASURE, then UNIT (the cap names it)."""


def describe_text(
    infos: Iterable[CollectorInfo], *, width: int | None = None, colour: bool = False
) -> str:
    """Each collector's provider and sharding policy, then a table of its limits with the
    caps in the provider's units (fitted to `width`, the terminal's when None)."""
    from quota_watch.reporting.terminal import Screen, TableRow
    from quota_watch.units import human

    screen = Screen(width=width, colour=colour)
    for number, info in enumerate(infos):
        provider = info.catalogue.provider
        if number:
            screen.line()
        screen.paragraph(
            f"{info.name}: {provider.title} ({len(info.catalogue.limits)} limits)",
            rest="  ",
            style="bold",
        )
        screen.paragraph(
            f"policy: several free accounts {provider.policy.multi_account}, "
            f"commercial use {provider.policy.commercial_use} (shard advice follows it)",
            first="  ",
            rest="    ",
        )
        rows = [
            TableRow(
                {
                    "limit": key,
                    "measure": spec.measure.value,
                    "period": spec.period.kind.value,
                    "cap": human(spec.cap, spec.unit.value, spec.display_unit)
                    if spec.cap is not None
                    else "from API",
                    "unit": spec.display_unit or spec.unit.value,
                }
            )
            for key, spec in info.catalogue.limits.items()
        ]
        if rows:
            screen.table(_COLUMNS, rows, indent=2)
        else:
            screen.line("  (limits are declared per account in the config)")
    return screen.text()
