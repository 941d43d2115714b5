"""A collector's catalogue in tests, as the core hands it in: build one, and its account limits."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from quota_watch.collect.catalog import load_catalogue
from quota_watch.collect.runtime import resolve_limits
from quota_watch.sdk import Collector, LimitSpec

__all__ = ["account_limits", "catalogue_limits"]


@cache
def _limits_beside(folder: Path) -> Mapping[str, LimitSpec]:
    return load_catalogue(folder / "limits.toml").limits


def catalogue_limits(cls: type[Any]) -> dict[str, LimitSpec]:
    """The limits of the limits.toml beside `cls`'s module, as the registry parses them."""
    return dict(_limits_beside(Path(inspect.getfile(cls)).resolve().parent))


def account_limits(collector: Collector) -> dict[str, LimitSpec]:
    """The limits the core polls `collector`'s account for: its declared limits or its
    catalogue, with the billing cycles its `period_anchors` hook names re-anchored."""
    return resolve_limits(catalogue_limits(type(collector)), collector)
