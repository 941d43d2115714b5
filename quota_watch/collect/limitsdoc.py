"""The limits table of a collector's README, rendered from its limits.toml (one source per fact)."""

from __future__ import annotations

from pathlib import Path

from quota_watch.collect.catalog import Catalogue, load_catalogue
from quota_watch.sdk import LimitSpec, PeriodKind, PeriodSpec, Unit

__all__ = ["BEGIN", "END", "limits_table", "render_readme"]

BEGIN = (
    "<!-- BEGIN limits table: generated from limits.toml by `python -m quota_watch.generated`;"
    " do not edit -->"
)
END = "<!-- END limits table -->"

# Largest first, binary and decimal interleaved: the largest unit that divides a cap wins.
_BINARY = [("TiB", 2.0**40), ("GiB", 2.0**30), ("MiB", 2.0**20), ("KiB", 2.0**10)]
_DECIMAL = [("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)]
_SIZES = sorted([*_BINARY, *_DECIMAL], key=lambda item: -item[1])
_TIMES = (("h", 3600.0), ("min", 60.0), ("s", 1.0), ("ms", 1e-3))


def _number(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.6g}"


def cap_text(cap: float | None, unit: Unit) -> str:
    """A cap as limits.toml would write it: "100 GiB", "10 GB", "2,000 min", "100,000"."""
    if cap is None:
        return "—"
    if cap == 0:
        return "0"
    if unit is Unit.BYTES:
        for suffix, size in _SIZES:
            if cap >= size and (cap / size) == int(cap / size):
                return f"{_number(cap / size)} {suffix}"
        return f"{_number(cap)} bytes"
    if unit is Unit.SECONDS:
        # Hours only from a day up: "300 min" reads as the provider writes it, "120 h" too.
        for suffix, size in _TIMES if cap >= 86400 else _TIMES[1:]:
            if cap >= size and abs(cap / size - round(cap / size)) < 1e-9:
                return f"{_number(round(cap / size))} {suffix}"
        return f"{cap:g} s"
    return _number(cap)


def period_text(period: PeriodSpec) -> str:
    """A period in words: "daily (UTC)", "billing cycle from day 17 (America/Los_Angeles)"."""
    if period.kind is PeriodKind.NONE:
        return "none"
    if period.kind is PeriodKind.ROLLING:
        return f"rolling {period.window}"
    if period.kind is PeriodKind.BILLING_CYCLE:
        return f"billing cycle from day {period.anchor_day} ({period.tz})"
    words = "daily" if period.kind is PeriodKind.DAILY else "calendar month"
    return f"{words} ({period.tz})"


def _row(name: str, spec: LimitSpec) -> str:
    cells = [
        f"`{name}`",
        spec.title.replace("|", "\\|"),
        spec.unit.value,
        spec.measure.value,
        period_text(spec.period),
        spec.scope.value,
        cap_text(spec.cap, spec.unit),
        spec.enforcement.value,
    ]
    return "| " + " | ".join(cells) + " |"


def limits_table(catalogue: Catalogue) -> str:
    """The generated block (markers included): one row per limit of the catalogue."""
    lines = [BEGIN, ""]
    if catalogue.limits:
        lines += [
            "| limit | title | unit | measure | period | scope | cap | enforcement |",
            "|---|---|---|---|---|---|---|---|",
            *(_row(name, spec) for name, spec in catalogue.limits.items()),
        ]
    else:
        lines += ["`limits.toml` declares no limits: each account declares its own.", "", END]
        return "\n".join(lines) + "\n"
    provider = catalogue.provider
    lines += [
        "",
        f"Caps of {provider.title}, from <{provider.source}> (checked {provider.verified}); "
        "each limit's notes in `limits.toml` say where its figure comes from. A cap of — has no "
        "catalogue value: the API reports it, or the account's config sets it.",
        "",
        END,
    ]
    return "\n".join(lines) + "\n"


def render_readme(readme: str, catalogue: Catalogue) -> str:
    """`readme` with its limits table rendered afresh: between the markers when present, else
    right under its "## Limits" heading, else in a new "## Limits" section at the end."""
    block = limits_table(catalogue)
    start, end = readme.find(BEGIN), readme.find(END)
    if start >= 0 and end > start:
        tail = readme[end + len(END) :].removeprefix("\n")
        return readme[:start] + block + tail
    heading = readme.find("\n## Limits\n")
    if heading >= 0:
        cut = heading + len("\n## Limits\n")
        return readme[:cut] + "\n" + block + readme[cut:]
    return readme.rstrip("\n") + "\n\n## Limits\n\n" + block


def collector_readmes(root: Path) -> list[Path]:
    """The README of every built-in collector folder that has a limits.toml, under `root`."""
    folder = root / "collectors" / "quota_watch_collectors"
    return sorted(p.parent / "README.md" for p in folder.glob("*/limits.toml"))


def render_collector_readme(readme: Path) -> str:
    """The README at `readme` with the table of the limits.toml beside it."""
    catalogue = load_catalogue(readme.parent / "limits.toml")
    return render_readme(readme.read_text(encoding="utf-8"), catalogue)
