"""What `collectors list` shows of each installed collector: its provider and limits."""

from __future__ import annotations

from typing import Any

from quota_watch.collect.registry import CollectorInfo


def describe(info: CollectorInfo) -> dict[str, Any]:
    """The collector's provider and limits as JSON-ready data."""
    provider = info.catalogue.provider
    return {
        "name": info.name,
        "title": provider.title,
        "source": provider.source,
        "verified": provider.verified.isoformat(),
        "policy": provider.policy.model_dump(mode="json"),
        "limits": {
            key: spec.model_dump(mode="json") for key, spec in info.catalogue.limits.items()
        },
    }


def describe_lines(info: CollectorInfo) -> list[str]:
    """The collector's provider, sharding policy and one line per limit, as text."""
    from quota_watch.units import human

    provider = info.catalogue.provider
    lines = [
        f"{info.name}: {provider.title} ({len(info.catalogue.limits)} limits)",
        f"  policy: several free accounts {provider.policy.multi_account}, "
        f"commercial use {provider.policy.commercial_use} (shard advice follows it)",
    ]
    for key, spec in info.catalogue.limits.items():
        cap = human(spec.cap, spec.unit.value) if spec.cap is not None else "from API"
        lines.append(f"  {key:<24} {spec.measure.value:<10} {spec.period.kind.value:<14} cap {cap}")
    if not info.catalogue.limits:
        lines.append("  (limits are declared per account in the config)")
    return lines
