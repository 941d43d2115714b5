"""Options of the neon collector: the API key, the projects to read and the API root."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from quota_watch.sdk import ApiBase

__all__ = ["DEFAULT_API_BASE", "NeonOptions"]

DEFAULT_API_BASE = "https://console.neon.tech/api/v2"
# Neon ids are URL path segments ("spring-example-302709", "org-cool-breeze-12345678").
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")


class NeonOptions(BaseModel):
    """`[accounts.options]` of a `neon` account (the projects one API key can read)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: SecretStr = Field(
        description="Neon API key (personal, organization or project-scoped); `token_file` "
        "in the config"
    )
    org_id: str | None = Field(
        default=None,
        description="list the projects of this organization (GET /projects?org_id=...); "
        "default: the projects of the key's own account",
    )
    project_ids: tuple[str, ...] = Field(
        default=(),
        description="read only these projects (no listing; required for a project-scoped key)",
    )
    api_base: ApiBase = Field(default=DEFAULT_API_BASE, description="API root (tests, proxies)")
    page_size: int = Field(default=100, ge=1, le=400, description="projects per listing page")
    max_pages: int = Field(
        default=10, ge=1, le=1000, description="most pages of GET /projects followed per poll"
    )

    @field_validator("org_id")
    @classmethod
    def _check_org(cls, value: str | None) -> str | None:
        if value is not None and not _ID.match(value):
            raise ValueError(f"{value!r} is not a Neon organization id (org-...)")
        return value

    @field_validator("project_ids")
    @classmethod
    def _check_projects(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            if not _ID.match(item):
                raise ValueError(f"{item!r} is not a Neon project id (letters, digits, '-')")
        if len(set(value)) != len(value):
            raise ValueError("a project is listed twice")
        return value
