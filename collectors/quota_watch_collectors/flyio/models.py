"""Pydantic models of the Machines API payloads the collector reads."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, NonNegativeFloat, NonNegativeInt

__all__ = ["App", "AppList", "ErrorBody", "Machine", "Volume"]


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class App(_Loose):
    """An element of GET /v1/apps?org_slug=."""

    name: str
    machine_count: NonNegativeInt | None = None


class AppList(_Loose):
    """GET /v1/apps?org_slug=: every app of the organization (not paged)."""

    total_apps: NonNegativeInt
    apps: list[App]


class Machine(_Loose):
    """An element of GET /v1/apps/{app}/machines."""

    id: str
    state: str


class Volume(_Loose):
    """An element of GET /v1/apps/{app}/volumes."""

    id: str
    state: str = ""
    size_gb: NonNegativeFloat


class ErrorBody(_Loose):
    """The Machines API's error body: {"error": "..."}."""

    error: str = ""
