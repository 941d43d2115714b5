"""Pydantic models of the Neon API payloads the collector reads (unknown fields ignored)."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, NonNegativeFloat

__all__ = [
    "Branch",
    "BranchList",
    "ErrorBody",
    "Pagination",
    "Project",
    "ProjectEnvelope",
    "ProjectList",
    "ProjectListItem",
    "ProjectQuota",
]


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ProjectQuota(_Loose):
    """`settings.quota`: limits a user set on the project (each absent or 0 when unset)."""

    active_time_seconds: NonNegativeFloat | None = None
    compute_time_seconds: NonNegativeFloat | None = None
    written_data_bytes: NonNegativeFloat | None = None
    data_transfer_bytes: NonNegativeFloat | None = None
    logical_size_bytes: NonNegativeFloat | None = None


class ProjectSettings(_Loose):
    """`settings`: only the quota is read."""

    quota: ProjectQuota | None = None


class Project(_Loose):
    """`project` of GET /projects/{id}: the consumption counters of the current period."""

    id: str
    name: str = ""
    active_time_seconds: NonNegativeFloat | None = None
    compute_time_seconds: NonNegativeFloat | None = None
    data_transfer_bytes: NonNegativeFloat | None = None
    written_data_bytes: NonNegativeFloat | None = None
    synthetic_storage_size: NonNegativeFloat | None = None
    branch_logical_size_limit_bytes: NonNegativeFloat | None = None
    consumption_period_start: AwareDatetime | None = None
    consumption_period_end: AwareDatetime | None = None
    settings: ProjectSettings | None = None


class ProjectEnvelope(_Loose):
    """GET /projects/{id}."""

    project: Project


class ProjectListItem(_Loose):
    """An element of GET /projects: only its id is used."""

    id: str


class Pagination(_Loose):
    """`pagination` of GET /projects: the cursor to pass for the next page."""

    cursor: str | None = None


class ProjectList(_Loose):
    """GET /projects."""

    projects: list[ProjectListItem]
    pagination: Pagination | None = None


class Branch(_Loose):
    """An element of GET /projects/{id}/branches."""

    id: str
    name: str = ""
    logical_size: NonNegativeFloat | None = None


class BranchList(_Loose):
    """GET /projects/{id}/branches."""

    branches: list[Branch] = Field(min_length=1)


class ErrorBody(_Loose):
    """Neon's error body: {"code": "...", "message": "..."}."""

    code: str = ""
    message: str = ""
