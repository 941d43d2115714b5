"""Pages builds this month, counted from the REST deployment lists of every Pages project."""

from __future__ import annotations

import itertools
import logging
from datetime import datetime
from typing import Any
from urllib.parse import quote

from pydantic import TypeAdapter, ValidationError

from quota_watch.sdk import UnexpectedResponse
from quota_watch_collectors.cloudflare.client import CloudflareApi, describe_validation_error
from quota_watch_collectors.cloudflare.models import PagesDeployment, PagesProject
from quota_watch_collectors.cloudflare.options import CloudflareOptions

__all__ = ["DIRECT_UPLOAD", "PAGES_PERMISSION", "count_pages_builds", "is_build"]

log = logging.getLogger(__name__)

PAGES_PERMISSION = "Account > Cloudflare Pages > Read"
_PAGES_HINT = "set include_pages_builds = false"
DIRECT_UPLOAD = "ad_hoc"
"""deployment_trigger.type of a Direct Upload (wrangler pages deploy): no build runs."""

_PROJECTS: TypeAdapter[list[PagesProject]] = TypeAdapter(list[PagesProject])
_DEPLOYMENTS: TypeAdapter[list[PagesDeployment]] = TypeAdapter(list[PagesDeployment])


def _validate(adapter: TypeAdapter[list[Any]], items: list[Any], where: str) -> list[Any]:
    try:
        return adapter.validate_python(items)
    except ValidationError as exc:
        problem = describe_validation_error(exc, "result")
    raise UnexpectedResponse(f"{where}: {problem}")


def is_build(deployment: PagesDeployment, options: CloudflareOptions) -> bool:
    """Whether a deployment used the build system: not skipped, and not a Direct Upload unless
    `pages_count_direct_uploads` (unknown trigger types count: over- rather than under-count)."""
    if deployment.is_skipped:
        return False
    trigger = deployment.deployment_trigger.type if deployment.deployment_trigger else None
    return options.pages_count_direct_uploads or trigger != DIRECT_UPLOAD


async def count_pages_builds(
    api: CloudflareApi, options: CloudflareOptions, *, since: datetime, now: datetime
) -> int:
    """Builds created in [since, now] across all Pages projects of the account.

    Deployments are listed newest first; a project's pages are followed until a page ends
    before `since` (when the page is in that order) or the list ends.
    """
    base = f"/accounts/{options.account_id}/pages/projects"
    names: list[str] = []
    async for page in api.pages(base, permission=PAGES_PERMISSION, hint=_PAGES_HINT):
        names += [p.name for p in _validate(_PROJECTS, page, f"GET {base}")]
    total = 0
    for name in dict.fromkeys(names):
        path = f"{base}/{quote(name, safe='')}/deployments"
        seen: set[str] = set()
        builds = 0
        async for page in api.pages(path, permission=PAGES_PERMISSION, hint=_PAGES_HINT):
            deployments: list[PagesDeployment] = _validate(_DEPLOYMENTS, page, f"GET {path}")
            for deployment in deployments:
                if deployment.id in seen:
                    continue  # a deployment that moved to the next page while we paged
                seen.add(deployment.id)
                if since <= deployment.created_on <= now and is_build(deployment, options):
                    builds += 1
            times = [d.created_on for d in deployments]
            newest_first = all(a >= b for a, b in itertools.pairwise(times))
            if times and newest_first and times[-1] < since:
                break
        log.debug("Pages project %r: %d build(s) since %s", name, builds, since.isoformat())
        total += builds
    return total
