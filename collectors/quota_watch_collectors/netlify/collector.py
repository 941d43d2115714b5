"""The netlify collector: a team's bandwidth, build minutes and credits for its billing cycle."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from quota_watch.sdk import (
    AuthError,
    CollectContext,
    CollectorBase,
    NoData,
    Reading,
    UnexpectedResponse,
    parse_model,
)
from quota_watch_collectors.netlify.client import NetlifyApi
from quota_watch_collectors.netlify.models import Account, Bandwidth, BuildMinutes, BuildStatus
from quota_watch_collectors.netlify.options import NetlifyOptions

__all__ = ["NetlifyCollector"]

log = logging.getLogger(__name__)

CYCLE_ZONE = "America/Los_Angeles"  # Netlify's billing cycles run in Pacific time
PACIFIC = ZoneInfo(CYCLE_ZONE)
_BUG = "netlify/open-api#640"
_Model = TypeVar("_Model", bound=BaseModel)


def _parse(model: type[_Model], payload: Any, where: str) -> _Model:
    return parse_model(model, payload, where)


def _as_list(payload: Any, where: str) -> list[Any]:
    if not isinstance(payload, list):
        got = "an object" if isinstance(payload, dict) else type(payload).__name__
        raise UnexpectedResponse(f"{where}: expected a JSON array, got {got}")
    return payload


class NetlifyCollector(CollectorBase):
    """One Netlify team: bandwidth and build minutes (legacy plans) or credits (credit plans)."""

    name: ClassVar[str] = "netlify"
    Options: ClassVar[type[BaseModel]] = NetlifyOptions

    options: NetlifyOptions

    def period_anchors(self) -> Mapping[str, int]:
        """Every billing-cycle limit on `billing_anchor_day`, when it is set."""
        return self.billing_cycle_anchors(self.options.billing_anchor_day)

    async def probe(self) -> None:
        """The token works and its user belongs to the team (GET /accounts, paginated)."""
        api = NetlifyApi(self.client, self.options, now=datetime.now(UTC))
        await self._find_team(api)

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """One poll: the team, its bandwidth and build status; readings or NoData saying why."""
        api = NetlifyApi(
            self.client, self.options, now=ctx.now, report_rate_limit=ctx.report_rate_limit
        )
        team = await self._find_team(api)
        unknown: list[str] = []
        bandwidth = await self._bandwidth(api, team, ctx.now, unknown)
        minutes = await self._build_minutes(api, team, ctx.now, unknown)
        readings: list[Reading] = []
        if self._credit_plan(team):
            log.info(
                "netlify team %r is on a credit-based plan: bandwidth and build minutes have no "
                "allowance of their own there (they draw on credits); reporting credits only",
                team.slug,
            )
            credits = self._credits(team, bandwidth, minutes, unknown)
            if credits is not None:
                readings.append(credits)
        else:
            if bandwidth is not None:
                readings.append(
                    Reading(
                        "bandwidth",
                        bandwidth.used,
                        cap=_positive(bandwidth.included),
                        period_start=bandwidth.period_start_date,
                        period_end=bandwidth.period_end_date,
                        period_zone=CYCLE_ZONE,
                    )
                )
            if minutes is not None:
                included = _positive(minutes.included_minutes)
                readings.append(
                    Reading(
                        "build_minutes",
                        minutes.current * 60,
                        cap=None if included is None else included * 60,
                        period_start=minutes.period_start_date,
                        period_end=minutes.period_end_date,
                        period_zone=CYCLE_ZONE,
                    )
                )
        self._check_anchor(ctx, readings)
        if not readings:
            raise NoData(f"netlify team {team.slug!r}: nothing to report: " + "; ".join(unknown))
        return readings

    # --- the team -----------------------------------------------------------------------------

    async def _find_team(self, api: NetlifyApi) -> Account:
        """The configured team from GET /accounts, following the Link header's next pages."""
        slug = self.options.account_slug
        query: dict[str, str] = {}
        seen: set[tuple[tuple[str, str], ...]] = {()}
        for _ in range(self.options.max_pages):
            page = await api.get("/accounts", query)
            where = "GET /accounts" + (f" (page {query['page']})" if "page" in query else "")
            items = _as_list(page.payload, where)
            if items and not any(
                isinstance(item, dict) and isinstance(item.get("slug"), str) for item in items
            ):
                raise UnexpectedResponse(f"{where}: the payload changed: no team has a 'slug'")
            for item in items:
                # Slugs are lowercase on Netlify; a differently cased option still finds the team.
                found = item.get("slug") if isinstance(item, dict) else None
                if isinstance(found, str) and found.casefold() == slug.casefold():
                    return _parse(Account, item, f"{where}: team {slug!r}")
            if page.next_query is None:
                raise AuthError(
                    f"netlify team {slug!r} is not among the teams this token's user belongs to: "
                    "check account_slug, or add the user to the team"
                )
            key = tuple(sorted(page.next_query.items()))
            if key in seen:
                raise UnexpectedResponse(f"{where}: the Link header points back to a page read")
            seen.add(key)
            query = page.next_query
        raise UnexpectedResponse(
            f"GET /accounts: team {slug!r} not found in {self.options.max_pages} pages "
            "(raise max_pages if the user belongs to that many teams)"
        )

    def _credit_plan(self, team: Account) -> bool:
        if self.options.plan != "auto":
            return self.options.plan == "credits"
        return team.capabilities is not None and team.capabilities.credits is not None

    # --- bandwidth and build minutes ------------------------------------------------------------

    async def _bandwidth(
        self, api: NetlifyApi, team: Account, now: datetime, unknown: list[str]
    ) -> Bandwidth | None:
        slug = team.slug
        if not self.options.bandwidth_endpoint:
            reason = "bandwidth: not read (the bandwidth_endpoint option is off)"
            log.info("netlify team %r: %s", slug, reason)
            unknown.append(reason)
            return None
        path = f"/accounts/{quote(slug, safe='')}/bandwidth"
        hint: str | None = None
        try:
            page = await api.get_optional(path)
        except AuthError as exc:
            hint = str(exc)
        if hint is not None:
            # Outside the except clause; the message already names the path and the status.
            raise AuthError(f"{hint}; or set bandwidth_endpoint = false to skip bandwidth")
        if page is None:
            reason = (
                f"bandwidth: GET {path} answered 404: Netlify's undocumented bandwidth endpoint "
                "is gone or not offered for this team; bandwidth left out as unknown"
            )
            log.warning("netlify team %r: %s", slug, reason)
            unknown.append(reason)
            return None
        bandwidth = _parse(Bandwidth, page.payload, f"GET {path}")
        if _stale(bandwidth.period_end_date, now, "bandwidth", slug, unknown):
            return None
        return bandwidth

    async def _build_minutes(
        self, api: NetlifyApi, team: Account, now: datetime, unknown: list[str]
    ) -> BuildMinutes | None:
        path = f"/{quote(team.id, safe='')}/builds/status"
        page = await api.get(path)
        items = _as_list(page.payload, f"GET {path}")
        if not items:
            reason = f"build minutes: GET {path} returned no build status"
            log.warning("netlify team %r: %s", team.slug, reason)
            unknown.append(reason)
            return None
        if len(items) > 1:
            log.debug("GET %s: %d build statuses, reading the first", path, len(items))
        minutes = _parse(BuildStatus, items[0], f"GET {path}: element 0").minutes
        if _stale(minutes.period_end_date, now, "build minutes", team.slug, unknown):
            return None
        return minutes

    # --- credits ----------------------------------------------------------------------------------

    def _credits(
        self,
        team: Account,
        bandwidth: Bandwidth | None,
        minutes: BuildMinutes | None,
        unknown: list[str],
    ) -> Reading | None:
        """The credits reading, or None (logged) where Netlify's used = 0 cannot be trusted."""
        credits = None if team.capabilities is None else team.capabilities.credits
        if credits is None:
            reason = "credits: the team reports no capabilities.credits (plan = 'credits' forced?)"
            log.warning("netlify team %r: %s", team.slug, reason)
            unknown.append(reason)
            return None
        if credits.used == 0:
            doubt = self._zero_credits_doubt(bandwidth, minutes)
            if doubt is not None:
                reason = (
                    f"credits: Netlify reports credits.used = 0 {doubt}: the known bug "
                    f"({_BUG}, used is always 0 on credit-based plans); credits left out as unknown"
                )
                log.warning("netlify team %r: %s", team.slug, reason)
                unknown.append(reason)
                return None
        return Reading("credits", credits.used, cap=_positive(credits.included))

    @staticmethod
    def _zero_credits_doubt(
        bandwidth: Bandwidth | None, minutes: BuildMinutes | None
    ) -> str | None:
        """Why a reported 0 cannot be believed, or None when every usage source says 0 too."""
        evidence: list[str] = []
        if bandwidth is not None and bandwidth.used > 0:
            evidence.append(f"the bandwidth endpoint counts {bandwidth.used:.0f} bytes this cycle")
        if minutes is not None and minutes.current > 0:
            evidence.append(f"builds/status counts {minutes.current:g} build minutes this cycle")
        if evidence:
            return "although " + " and ".join(evidence)
        if bandwidth is None:
            return "and bandwidth (the usage every visit causes) could not be read to confirm it"
        return None

    # --- periods ----------------------------------------------------------------------------------

    def _check_anchor(self, ctx: CollectContext, readings: list[Reading]) -> None:
        """Log once when the API's billing period does not start where the limit's period does."""
        for reading in readings:
            period = ctx.periods.get(reading.limit)
            if reading.period_start is None or period is None or period.start is None:
                continue
            if period.start != reading.period_start:
                # The readings carry the API's cycle, which the core stores; the configured
                # cycle only shapes ctx.periods, so this is worth a note, not a warning.
                day = reading.period_start.astimezone(PACIFIC).day
                log.info(
                    "netlify team %r: Netlify's billing cycle started %s (Pacific day %d), the "
                    "configured cycle %s: the API's cycle is used (billing_anchor_day = %d "
                    "would make them agree)",
                    self.options.account_slug,
                    reading.period_start.isoformat(),
                    day,
                    period.start.isoformat(),
                    day,
                )
                return


def _positive(value: float | None) -> float | None:
    """An allowance the API reports, or None (catalogue cap) when it reports none or 0."""
    return value if value is not None and value > 0 else None


def _stale(end: datetime, now: datetime, what: str, slug: str, unknown: list[str]) -> bool:
    """True (logged) when the API still reports a billing period that has already ended."""
    if end > now:
        return False
    reason = (
        f"{what}: Netlify still reports the billing period that ended {end.isoformat()} "
        "(its usage figures are cached); left out until the new period appears"
    )
    log.info("netlify team %r: %s", slug, reason)
    unknown.append(reason)
    return True
