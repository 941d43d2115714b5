"""The supabase collector: Free-plan limits of every project and organization a token sees."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, TypeAdapter

from quota_watch.sdk import (
    AuthError,
    CollectContext,
    CollectorBase,
    LimitSpec,
    Reading,
    UnexpectedResponse,
    parse_adapter,
)
from quota_watch_collectors.supabase.client import (
    EndpointGone,
    SupabaseApi,
    analytics_failure,
    validate,
)
from quota_watch_collectors.supabase.invocations import Plan, Status, Tally, plan_window
from quota_watch_collectors.supabase.models import (
    ApiCountRow,
    ApiCountsResponse,
    LogsCountResponse,
    Organization,
    OrganizationDetail,
    OrgProjectsPage,
    SizeRow,
)
from quota_watch_collectors.supabase.options import SupabaseOptions
from quota_watch_collectors.supabase.orgusage import org_usage

__all__ = ["SupabaseCollector"]

ItemT = TypeVar("ItemT")

log = logging.getLogger(__name__)

FREE_PLAN = "free"
RUNNING = frozenset({"ACTIVE_HEALTHY", "ACTIVE_UNHEALTHY"})
PAUSED = "INACTIVE"
REMOVED = "REMOVED"
INACTIVITY_CAP = timedelta(days=7)
# usage.api-counts windows as the interval names them; buckets start at timestamp_trunc().
DAY = timedelta(days=1)
WEEK = timedelta(days=7)
# Database size as the dashboard and the database-size guide measure it, and the bytes of every
# object in Storage (the org's "Storage Size").
SIZE_SQL = (
    "select "
    "(select sum(pg_database_size(oid)) from pg_database)::bigint as db_bytes, "
    "(select coalesce(sum((metadata->>'size')::bigint), 0) from storage.objects)::bigint "
    "as storage_bytes"
)
INVOCATIONS_SQL = {
    # ClickHouse: one `logs` table keyed by source (the endpoint since logs.all's retirement).
    "logs": "select count() as count from logs where source = 'function_edge_logs'",
    # BigQuery: one table per source (logs.all, retired on 2026-09-23).
    "logs.all": "select count(*) as count from function_edge_logs",
}
STATE_INVOCATIONS = "invocations"
STATE_STORAGE = "storage_bytes"

PERMISSION_ORGS = "Organizations: Read (user:organizations)"
PERMISSION_PROJECTS = "Projects: Read (user:projects) for the organization"
PERMISSION_USAGE = "Usage Analytics: Read (project:analytics_usage)"
PERMISSION_LOGS = (
    "Logs: Read (project:analytics_logs), or set count_function_invocations_from_logs = false"
)
PERMISSION_SQL = "Database: Read (project:database), or set query_database = false"

_ORGANIZATIONS = TypeAdapter(list[Organization])
_ROWS = TypeAdapter(list[SizeRow])


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seg(text: str) -> str:
    return quote(text, safe="")


@dataclass
class _Project:
    ref: str
    name: str
    status: str
    org: str
    created_at: datetime | None

    @property
    def kind(self) -> Status:
        if self.status in RUNNING:
            return Status.RUNNING
        if self.status == PAUSED:
            return Status.PAUSED
        return Status.OTHER


@dataclass
class _Org:
    slug: str
    projects: list[_Project] = field(default_factory=list)


class SupabaseCollector(CollectorBase):
    """Database size, storage, invocations, API requests, free projects and pause risk."""

    name: ClassVar[str] = "supabase"
    Options: ClassVar[type[BaseModel]] = SupabaseOptions

    options: SupabaseOptions

    def period_anchors(self) -> Mapping[str, int]:
        """Every billing-cycle limit on `billing_anchor_day`, when it is set."""
        return self.billing_cycle_anchors(self.options.billing_anchor_day)

    async def probe(self) -> None:
        """List the organizations: proves the token and the Organizations: Read permission."""
        api = SupabaseApi(self.client, self.options, datetime.now(UTC))
        await self._organizations(api)

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """One poll of every Free-plan organization (or of `project_refs`)."""
        api = SupabaseApi(self.client, self.options, ctx.now)
        try:
            return await _Poll(self.options, api, ctx, self.catalogue).run()
        finally:
            if api.rate_limit is not None:
                status = api.rate_limit
                ctx.report_rate_limit(status.remaining, status.limit, status.resets_at)

    @staticmethod
    async def _organizations(api: SupabaseApi) -> list[Organization]:
        data = await api.get("/v1/organizations", permission=PERMISSION_ORGS)
        return _validate_list(_ORGANIZATIONS, data, "GET /v1/organizations")


def _validate_list(adapter: TypeAdapter[list[ItemT]], data: Any, where: str) -> list[ItemT]:
    return parse_adapter(adapter, data, where)


class _Poll:
    """The state of one collect() call."""

    def __init__(
        self,
        options: SupabaseOptions,
        api: SupabaseApi,
        ctx: CollectContext,
        catalogue: Mapping[str, LimitSpec],
    ) -> None:
        self.options = options
        self.catalogue = catalogue
        self.api = api
        self.ctx = ctx
        self.now = ctx.now
        self.readings: list[Reading] = []
        self.storage_cache: dict[str, int] = _int_map(ctx.state.get(STATE_STORAGE))
        self.tallies: dict[str, Tally] = {}
        for ref, raw in _dict(ctx.state.get(STATE_INVOCATIONS)).items():
            tally = Tally.from_json(raw)
            if tally is not None:
                self.tallies[ref] = tally
        self.new_tallies: dict[str, Tally] = {}

    # --- the poll -----------------------------------------------------------------------------

    async def run(self) -> list[Reading]:
        orgs = await self._free_orgs()
        all_projects = [p for org in orgs for p in org.projects]
        selected_refs = self._selected(all_projects)
        active = [p for p in all_projects if p.kind is not Status.PAUSED]
        self.readings.append(Reading("active_free_projects", float(len(active))))
        sizes: dict[str, SizeRow] = {}
        for org in orgs:
            chosen = [p for p in org.projects if p.ref in selected_refs]
            if not chosen:
                continue
            provided: set[str] = set()
            if self.options.use_org_usage_endpoint:
                from_org = await org_usage(self.api, org.slug, self.ctx, self.catalogue)
                self.readings.extend(from_org)
                provided = {reading.limit for reading in from_org}
            need_storage = "storage_size" not in provided and self.options.query_database
            if self.options.query_database:
                # Every running project of the org when the org's storage is summed from them.
                measured = org.projects if need_storage else chosen
                for project in measured:
                    if project.kind is Status.RUNNING:
                        sizes[project.ref] = await self._sizes(project)
            for project in chosen:
                await self._project_readings(project, sizes.get(project.ref))
            if need_storage:
                self._storage_from_projects(org, sizes)
            if "function_invocations" not in provided and (
                self.options.count_function_invocations_from_logs
            ):
                await self._invocations_from_logs(org)
        self._save_state(all_projects, sizes)
        return self.readings

    def _selected(self, projects: list[_Project]) -> set[str]:
        refs = {p.ref for p in projects}
        wanted = self.options.project_refs
        if wanted is None:
            return refs
        missing = sorted(set(wanted) - refs)
        if missing:
            raise AuthError(
                f"project(s) {', '.join(missing)} not found in any Free-plan organization the "
                "token can see: check project_refs, the organization's plan and the token's "
                "project access"
            )
        return set(wanted)

    # --- organizations and projects -----------------------------------------------------------

    async def _free_orgs(self) -> list[_Org]:
        orgs: list[_Org] = []
        for org in await SupabaseCollector._organizations(self.api):
            path = f"/v1/organizations/{_seg(org.slug)}"
            detail = validate(
                OrganizationDetail,
                await self.api.get(path, permission=PERMISSION_ORGS),
                f"GET {path}",
            )
            if detail.plan is not None and detail.plan != FREE_PLAN:
                log.info(
                    "supabase organization %s is on the %r plan: skipped (the catalogue holds "
                    "Free-plan caps)",
                    org.slug,
                    detail.plan,
                )
                continue
            if detail.plan is None:
                log.info("supabase organization %s: no plan reported, read as Free", org.slug)
            orgs.append(_Org(org.slug, await self._projects(org.slug)))
        return orgs

    async def _projects(self, slug: str) -> list[_Project]:
        """Every project of the org, following offset/limit pagination to pagination.count."""
        path = f"/v1/organizations/{_seg(slug)}/projects"
        found: dict[str, _Project] = {}
        offset = 0
        for _ in range(10_000):  # a bound, in case the API keeps answering pages
            params = {"offset": str(offset), "limit": str(self.options.page_size)}
            page = validate(
                OrgProjectsPage,
                await self.api.get(path, params=params, permission=PERMISSION_PROJECTS),
                f"GET {path}",
            )
            for item in page.projects:
                if item.is_branch or item.status == REMOVED:
                    continue
                found[item.ref] = _Project(item.ref, item.name, item.status, slug, item.inserted_at)
            offset += len(page.projects)
            if not page.projects or offset >= page.pagination.count:
                return list(found.values())
        raise UnexpectedResponse(f"GET {path}: pagination does not end")

    # --- per project ---------------------------------------------------------------------------

    async def _project_readings(self, project: _Project, size: SizeRow | None) -> None:
        if project.kind is Status.PAUSED:
            if self.options.pause_risk_from_api_counts:
                # Paused: the inactivity rule has been enforced (or it was paused by hand).
                self._add("inactive_time", INACTIVITY_CAP.total_seconds(), project.ref)
            return
        if project.kind is Status.OTHER:
            log.info(
                "supabase project %s is %s: no per-project readings this poll",
                project.ref,
                project.status,
            )
            return
        if size is not None:
            self._add("database_size", size.db_bytes, project.ref)
        day = await self._api_counts(project.ref, "1day")
        self._add("api_requests", sum(row.total for row in day), project.ref)
        if self.options.pause_risk_from_api_counts:
            self._add("inactive_time", await self._inactive_seconds(project, day), project.ref)

    async def _api_counts(self, ref: str, interval: str) -> list[ApiCountRow]:
        path = f"/v1/projects/{_seg(ref)}/analytics/endpoints/usage.api-counts"
        where = f"GET {path}?interval={interval}"
        data = await self.api.get(path, params={"interval": interval}, permission=PERMISSION_USAGE)
        answer = validate(ApiCountsResponse, data, where)
        failure = analytics_failure(answer.error, where)
        if failure is not None:
            raise failure
        if answer.result is None:
            raise UnexpectedResponse(f"{where}: neither result nor error in the response")
        return answer.result

    async def _inactive_seconds(self, project: _Project, day: list[ApiCountRow]) -> float:
        """Seconds since the start of the last bucket with API requests (a conservative bound)."""
        last = _last_activity(day)
        window = DAY
        if last is None:
            last = _last_activity(await self._api_counts(project.ref, "7day"))
            window = WEEK
        if last is None:
            # No request in the whole window: at least that long, or since the project exists.
            quiet = window
            if project.created_at is not None:
                quiet = min(quiet, self.now - project.created_at)
            return max(0.0, quiet.total_seconds())
        return max(0.0, (self.now - last).total_seconds())

    async def _sizes(self, project: _Project) -> SizeRow:
        path = f"/v1/projects/{_seg(project.ref)}/database/query/read-only"
        where = f"POST {path}"
        data = await self.api.post(path, {"query": SIZE_SQL}, permission=PERMISSION_SQL)
        rows = _validate_list(_ROWS, data, where)
        if len(rows) != 1:
            raise UnexpectedResponse(f"{where}: expected one row, got {len(rows)}")
        return rows[0]

    # --- per organization ----------------------------------------------------------------------

    def _storage_from_projects(self, org: _Org, sizes: Mapping[str, SizeRow]) -> None:
        total = 0.0
        unknown: list[str] = []
        for project in org.projects:
            if project.ref in sizes:
                total += sizes[project.ref].storage_bytes
            elif project.ref in self.storage_cache:
                # Paused or restarting: its objects cannot change, the last size still holds.
                total += self.storage_cache[project.ref]
            else:
                unknown.append(f"{project.ref} ({project.status})")
        if unknown:
            log.info(
                "supabase organization %s: storage size unknown: never measured %s",
                org.slug,
                ", ".join(unknown),
            )
            return
        self._add("storage_size", total, org.slug)

    async def _invocations_from_logs(self, org: _Org) -> None:
        cycle = self.ctx.period("function_invocations")
        if cycle.start is None:  # a billing cycle always has a start
            return
        # Whole seconds: the API takes second-precision bounds, so windows meet exactly.
        end = (self.now - self.options.log_delay).replace(microsecond=0)
        incomplete: list[str] = []
        refs = {p.ref for p in org.projects}
        for project in org.projects:
            plan = plan_window(
                self.tallies.get(project.ref),
                org=org.slug,
                status=project.kind,
                cycle_start=cycle.start,
                created_at=project.created_at,
                end=end,
            )
            tally = await self._count(project, plan)
            if tally is None:
                return  # the logs endpoint is gone: counting stops, the tallies stay as they were
            self.new_tallies[project.ref] = tally
            if not tally.complete or tally.counted_until < end:
                incomplete.append(project.ref)
        # Projects deleted this cycle still count: their tallies stay in state until it ends.
        total = sum(t.count for t in self.new_tallies.values() if t.org == org.slug)
        for ref, tally in self.tallies.items():
            if ref not in refs and tally.org == org.slug and tally.cycle_start == cycle.start:
                self.new_tallies[ref] = tally
                total += tally.count
                if not tally.complete:
                    incomplete.append(ref)
        if incomplete:
            log.info(
                "supabase organization %s: edge function invocations this cycle unknown: "
                "not counted since %s for %s (complete from the next billing cycle at the "
                "latest, %s)",
                org.slug,
                _iso(cycle.start),
                ", ".join(incomplete),
                _iso(cycle.end) if cycle.end is not None else "?",
            )
            return
        self._add("function_invocations", float(total), org.slug)

    async def _count(self, project: _Project, plan: Plan) -> Tally | None:
        if plan.window_end is None:
            return plan.tally
        endpoint = self.options.logs_endpoint
        path = f"/v1/projects/{_seg(project.ref)}/analytics/endpoints/{endpoint}"
        where = f"GET {path}"
        params = {
            "sql": INVOCATIONS_SQL[endpoint],
            "iso_timestamp_start": _iso(plan.tally.counted_until),
            "iso_timestamp_end": _iso(plan.window_end),
        }
        try:
            data = await self.api.get(path, params=params, permission=PERMISSION_LOGS)
            answer = validate(LogsCountResponse, data, where)
            failure = analytics_failure(answer.error, where)
            if failure is not None:
                raise failure
            if answer.result is None or len(answer.result) != 1:
                got = "no result" if answer.result is None else f"{len(answer.result)} rows"
                raise UnexpectedResponse(f"{where}: expected one count row, got {got}")
        except UnexpectedResponse as exc:
            if project.kind is Status.PAUSED:
                # Its logs may not answer while it is paused: give up this cycle's total rather
                # than fail every poll until it resumes.
                log.info(
                    "supabase project %s (paused): invocations not countable: %s", project.ref, exc
                )
                return replace(plan.tally, counted_until=plan.window_end, complete=False)
            if isinstance(exc, EndpointGone):
                log.warning("supabase: cannot count edge function invocations: %s", exc)
                return None
            raise
        return plan.counted(int(answer.result[0].count))

    # --- helpers -------------------------------------------------------------------------------

    def _add(self, limit: str, value: float, resource: str | None = None) -> None:
        self.readings.append(Reading(limit, float(value), resource))

    def _save_state(self, projects: Iterable[_Project], sizes: Mapping[str, SizeRow]) -> None:
        """Written last, so a poll that raised leaves the state as it was."""
        known = {p.ref for p in projects}
        storage = {ref: size for ref, size in self.storage_cache.items() if ref in known}
        storage.update({ref: int(row.storage_bytes) for ref, row in sizes.items()})
        tallies = dict(self.tallies)
        tallies.update(self.new_tallies)
        cycle_start = self.ctx.period("function_invocations").start
        kept = {
            ref: tally.to_json()
            for ref, tally in tallies.items()
            if ref in known or tally.cycle_start == cycle_start
        }
        self.ctx.state[STATE_STORAGE] = storage
        self.ctx.state[STATE_INVOCATIONS] = kept


def _last_activity(rows: Iterable[ApiCountRow]) -> datetime | None:
    active = [row.timestamp for row in rows if row.total > 0]
    return max(active) if active else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int_map(value: Any) -> dict[str, int]:
    return {
        str(k): v
        for k, v in _dict(value).items()
        if isinstance(v, int) and not isinstance(v, bool) and v >= 0
    }
