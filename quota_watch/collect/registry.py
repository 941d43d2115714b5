"""Entry-point discovery of collectors (group "quota_watch.collectors"), validated on load."""

from __future__ import annotations

import importlib.util
from collections.abc import Collection
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from pydantic import BaseModel

from quota_watch.collect.catalog import Catalogue, CatalogueError, load_catalogue
from quota_watch.sdk import Collector

ENTRY_POINT_GROUP = "quota_watch.collectors"


class RegistryError(Exception):
    """A collector could not be loaded or failed validation; lists every problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class CollectorInfo:
    """A loaded, validated collector: its class, catalogue and package folder."""

    name: str
    cls: type[Collector]
    catalogue: Catalogue
    folder: Path


def _entry_points() -> dict[str, list[EntryPoint]]:
    found: dict[str, list[EntryPoint]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, []).append(ep)
    return found


def available() -> list[str]:
    """Names of every installed collector, without importing any of them."""
    return sorted(_entry_points())


def _folder_of(ep: EntryPoint) -> Path | None:
    module = ep.value.partition(":")[0]
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def _load_one(name: str, ep: EntryPoint) -> tuple[CollectorInfo | None, list[str]]:
    where = f"collector {name!r} ({ep.value})"
    try:
        cls = ep.load()
    except Exception as exc:  # a plugin may fail in any way while importing
        return None, [f"{where}: cannot be imported: {type(exc).__name__}: {exc}"]
    errors: list[str] = []
    declared = getattr(cls, "name", None)
    if declared != name:
        errors.append(f"{where}: class name attribute is {declared!r}, entry point says {name!r}")
    options = getattr(cls, "Options", None)
    if not (isinstance(options, type) and issubclass(options, BaseModel)):
        errors.append(f"{where}: has no Options model (a pydantic BaseModel subclass)")
    for method in ("probe", "collect", "declared_limits"):
        if not callable(getattr(cls, method, None)):
            errors.append(f"{where}: missing method {method}()")
    folder = _folder_of(ep)
    catalogue: Catalogue | None = None
    if folder is None:
        errors.append(f"{where}: cannot locate its package folder")
    else:
        try:
            catalogue = load_catalogue(folder / "limits.toml")
        except CatalogueError as exc:
            errors.extend(f"{where}: {line}" for line in str(exc).splitlines())
        except OSError as exc:
            errors.append(f"{where}: cannot read limits.toml: {exc.strerror}")
        else:
            if catalogue.provider.name != name:
                errors.append(
                    f"{where}: limits.toml provider.name is {catalogue.provider.name!r}, "
                    f"expected {name!r}"
                )
    if errors or catalogue is None or folder is None:
        return None, errors
    return CollectorInfo(name=name, cls=cls, catalogue=catalogue, folder=folder), []


def discover(names: Collection[str] | None = None) -> dict[str, CollectorInfo]:
    """Load and validate the named collectors (all installed ones when `names` is None)."""
    found = _entry_points()
    wanted = sorted(found) if names is None else sorted(set(names))
    errors: list[str] = []
    loaded: dict[str, CollectorInfo] = {}
    for name in wanted:
        eps = found.get(name)
        if not eps:
            known = ", ".join(sorted(found)) or "none"
            errors.append(f"unknown collector {name!r} (installed: {known})")
            continue
        if len({ep.value for ep in eps}) > 1:
            sources = ", ".join(sorted({ep.value for ep in eps}))
            errors.append(f"collector name {name!r} is registered more than once: {sources}")
            continue
        info, problems = _load_one(name, eps[0])
        errors.extend(problems)
        if info is not None:
            loaded[name] = info
    if errors:
        raise RegistryError(errors)
    return loaded
