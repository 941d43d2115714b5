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
