"""The aws collector: Free Tier offers (GetFreeTierUsage) and plan credits (GetAccountPlanState)."""

from __future__ import annotations

import calendar
import logging
import math
from collections import defaultdict
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeGuard, TypeVar

from pydantic import BaseModel, ValidationError

from quota_watch.sdk import (
    CollectContext,
    CollectorBase,
    LimitSpec,
    NoData,
    Reading,
    UnexpectedResponse,
)
from quota_watch_collectors.aws.client import BotocoreSigner, FreeTierApi, NotFound, Signer
from quota_watch_collectors.aws.models import (
    FreeTierUsage,
    GetAccountPlanStateResponse,
    GetFreeTierUsageResponse,
    describe_validation_error,
)
from quota_watch_collectors.aws.options import AwsOptions

if TYPE_CHECKING:
    import httpx

__all__ = ["AwsCollector", "UnitKind", "classify_unit", "months_before"]

log = logging.getLogger(__name__)

UnitKind = Literal["bytes", "seconds", "units"]
_Model = TypeVar("_Model", bound=BaseModel)

STATE_KEY = "credits"
_TIME_UNITS: dict[str, float] = {
    "hrs": 3600,
    "hr": 3600,
    "hours": 3600,
    "hour": 3600,
    "minutes": 60,
    "minute": 60,
    "mins": 60,
    "min": 60,
    "seconds": 1,
    "second": 1,
    "secs": 1,
    "sec": 1,
}
# AWS unit names for data sizes, as powers of its "kilo" (1024 or 1000: the `gigabyte` option).
_SIZE_POWERS: dict[str, int] = {"bytes": 0, "byte": 0, "kb": 1, "mb": 2, "gb": 3, "tb": 4, "pb": 5}
_BINARY_POWERS: dict[str, int] = {"kib": 1, "mib": 2, "gib": 3, "tib": 4}
# Storage accrued over the month ("GB-Mo"): the same size unit, integrated over the month; the
# offer's limit is in the same unit, so value and cap stay comparable.
_MONTH_SUFFIXES = ("-mo", "-month", "-months")


def classify_unit(unit: str, gigabyte_bytes: float) -> tuple[UnitKind, float]:
    """The catalogue kind of an AWS usage unit and the factor to its base unit.

    Time units ("Hrs") become seconds, data sizes ("GB", "GB-Mo") bytes; everything else
    ("Request", "Obj-Month", "Lambda-GB-Second", ...) stays a count of the unit AWS names.
    """
    key = unit.strip().lower()
    if key in _TIME_UNITS:
        return "seconds", _TIME_UNITS[key]
    for suffix in _MONTH_SUFFIXES:
        if key.endswith(suffix):
            key = key.removesuffix(suffix)
            break
    kilo = 1024.0 if gigabyte_bytes == 2.0**30 else 1000.0
    if key in _SIZE_POWERS:
        return "bytes", kilo ** _SIZE_POWERS[key]
    if key in _BINARY_POWERS:
        return "bytes", 1024.0 ** _BINARY_POWERS[key]
    return "units", 1.0


def months_before(moment: datetime, months: int) -> datetime:
    """The same wall time `months` calendar months earlier (the day clamped to month end)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


@dataclass(frozen=True, slots=True)
class _Offer:
    """One Free Tier offer ready to map: its usage row and its catalogue kind."""

    usage: FreeTierUsage
    kind: UnitKind
    factor: float

    @property
    def base(self) -> str:
        return f"{self.usage.service}/{self.usage.usage_type}"


def _parse(model: type[_Model], document: Mapping[str, Any], where: str) -> _Model:
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        problem = describe_validation_error(exc)
    raise UnexpectedResponse(f"{where}: unexpected payload: {problem}")


class AwsCollector(CollectorBase):
    """AWS Free Tier: one reading per offer against the API's own limit, plus plan credits."""

    name: ClassVar[str] = "aws"
    Options: ClassVar[type[BaseModel]] = AwsOptions

    options: AwsOptions

    def __init__(
        self,
        options: AwsOptions,
        client: httpx.AsyncClient,
        limits: Mapping[str, LimitSpec] | None = None,
        *,
        signer: Signer | None = None,
    ) -> None:
        super().__init__(options, client, limits)
        self.api = FreeTierApi(client, options, signer or BotocoreSigner(options))

    async def probe(self) -> None:
        """One-row GetFreeTierUsage, and GetAccountPlanState when `account_plan` is on."""
        now = datetime.now(UTC)
        page = await self.api.call("GetFreeTierUsage", {"maxResults": 1}, now=now)
        _parse(GetFreeTierUsageResponse, page, "GetFreeTierUsage")
        if self.options.account_plan:
            await self._plan_state(now)

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """Every offer (all pages), then the plan's credits and expiry."""
        offers = await self._offers(ctx.now)
        readings = self._offer_readings(offers)
        credit_state: dict[str, float] | None = None
        if self.options.account_plan:
            plan = await self._plan_state(ctx.now)
            if plan is not None:
                plan_readings, credit_state = self._plan_readings(plan, ctx.now, ctx.state)
                readings += plan_readings
        if not readings:
            raise NoData(
                "GetFreeTierUsage listed no offer (AWS lists only offers used this month)"
                + (" and the account has no credit plan" if self.options.account_plan else "")
            )
        if credit_state is not None:
            ctx.state[STATE_KEY] = credit_state
        return readings

    # --- GetFreeTierUsage ---------------------------------------------------------------------

    async def _offers(self, now: datetime) -> list[_Offer]:
        usages: list[FreeTierUsage] = []
        token: str | None = None
        seen: set[str] = set()
        for page_number in range(1, self.options.max_pages + 1):
            payload: dict[str, Any] = {"maxResults": self.options.page_size}
            if token is not None:
                payload["nextToken"] = token
            document = await self.api.call("GetFreeTierUsage", payload, now=now)
            page = _parse(
                GetFreeTierUsageResponse, document, f"GetFreeTierUsage page {page_number}"
            )
            usages.extend(page.free_tier_usages)
            token = page.next_token or None
            if token is None:
                break
            if token in seen:
                raise UnexpectedResponse(
                    f"GetFreeTierUsage page {page_number}: nextToken repeats an earlier page's"
                )
            seen.add(token)
        else:
            raise UnexpectedResponse(
                f"GetFreeTierUsage: still a nextToken after {self.options.max_pages} pages "
                "(raise max_pages if the account really has that many offers)"
            )
        offers = []
        for usage in usages:
            kind, factor = classify_unit(usage.unit, self.options.gigabyte_bytes)
            if kind == "units":
                log.debug("aws: unit %r of %s kept as a count", usage.unit, usage.usage_type)
            offers.append(_Offer(usage, kind, factor))
        return offers

    def _offer_readings(self, offers: list[_Offer]) -> list[Reading]:
        readings: list[Reading] = []
        for resource, offer in self._name_offers(offers).items():
            usage = offer.usage
            if usage.actual_usage_amount < 0 or usage.limit < 0:
                log.warning(
                    "aws: offer %s reports a negative amount (usage %g, limit %g); left out",
                    resource,
                    usage.actual_usage_amount,
                    usage.limit,
                )
                continue
            cap: float | None = usage.limit * offer.factor
            if usage.limit == 0:
                log.info("aws: offer %s reports a limit of 0; reported without a cap", resource)
                cap = None
            forecast = self._forecast(offer, resource)
            readings.append(
                Reading(
                    f"free_tier_{offer.kind}",
                    usage.actual_usage_amount * offer.factor,
                    resource=resource,
                    cap=cap,
                    forecast=forecast,
                )
            )
            if forecast is not None and self.options.forecast_limits:
                readings.append(
                    Reading(
                        f"free_tier_forecast_{offer.kind}", forecast, resource=resource, cap=cap
                    )
                )
        return readings

    def _forecast(self, offer: _Offer, resource: str) -> float | None:
        """AWS's month-end forecast of the offer in base units; None when off or unusable."""
        forecast = offer.usage.forecasted_usage_amount
        if not self.options.forecasts:
            return None
        if forecast is None or forecast < 0:
            log.debug("aws: offer %s has no usable forecastedUsageAmount", resource)
            return None
        return forecast * offer.factor

    @staticmethod
    def _name_offers(offers: list[_Offer]) -> dict[str, _Offer]:
        """Resource names "<service>/<usageType>", made unique where two offers share one.

        Colliding offers get the fields that tell them apart appended (operation, region,
        freeTierType). Rows identical in all of those are the same offer listed twice: kept
        once when their amounts agree, drift otherwise.
        """
        groups: dict[tuple[str, UnitKind], list[_Offer]] = defaultdict(list)
        for offer in offers:
            groups[(offer.base, offer.kind)].append(offer)
        named: dict[str, _Offer] = {}
        for (base, _kind), group in groups.items():
            if len(group) == 1:
                named[base] = group[0]
                continue
            fields = ("operation", "region", "free_tier_type")
            differing = [f for f in fields if len({getattr(o.usage, f) for o in group}) > 1]
            for offer in group:
                extra = "/".join(getattr(offer.usage, f) or "-" for f in differing)
                resource = f"{base} ({extra})" if extra else base
                if resource in named:
                    if named[resource].usage != offer.usage:
                        raise UnexpectedResponse(
                            f"GetFreeTierUsage lists offer {resource!r} twice with different "
                            "amounts"
                        )
                    continue
                named[resource] = offer
        return named

    # --- GetAccountPlanState ------------------------------------------------------------------

    async def _plan_state(self, now: datetime) -> GetAccountPlanStateResponse | None:
        try:
            document = await self.api.call("GetAccountPlanState", {}, now=now)
        except NotFound:
            # Accounts created before the July 2025 free/paid plans have no plan state.
            log.info("aws: GetAccountPlanState: no account plan (ResourceNotFoundException)")
            return None
        plan = _parse(GetAccountPlanStateResponse, document, "GetAccountPlanState")
        log.debug(
            "aws: account plan %s, status %s", plan.account_plan_type, plan.account_plan_status
        )
        return plan

    def _plan_readings(
        self,
        plan: GetAccountPlanStateResponse,
        now: datetime,
        state: MutableMapping[str, Any],
    ) -> tuple[list[Reading], dict[str, float] | None]:
        readings: list[Reading] = []
        credit_state: dict[str, float] | None = None
        credits = plan.remaining_credits
        if credits is None:
            log.info("aws: GetAccountPlanState carries no accountPlanRemainingCredits")
        else:
            if credits.unit != "USD":
                raise UnexpectedResponse(
                    "GetAccountPlanState: accountPlanRemainingCredits.unit is "
                    f"{credits.unit!r}, expected 'USD'"
                )
            remaining = max(credits.amount, 0.0)
            readings.append(Reading("credits_remaining", remaining))
            used, credit_state = self._credits_used(remaining, state)
            if used is not None:
                readings.append(used)
        elapsed = self._plan_elapsed(plan, now)
        if elapsed is not None:
            readings.append(elapsed)
        return readings, credit_state

    def _credits_used(
        self, remaining: float, state: Mapping[str, Any]
    ) -> tuple[Reading | None, dict[str, float] | None]:
        """credits_used against the credits available: `credit_grant`, or estimated.

        The estimate starts at the first remaining amount seen and grows by every increase
        of the remaining amount between polls (credits earned from activities).
        """
        grant = self.options.credit_grant
        if grant is not None:
            if remaining > grant:
                log.warning(
                    "aws: %.2f USD of credits remain, more than credit_grant (%.2f USD): "
                    "credits_used left out; raise credit_grant",
                    remaining,
                    grant,
                )
                return None, None
            return Reading("credits_used", grant - remaining, cap=grant), None
        previous = state.get(STATE_KEY)
        available = remaining
        if isinstance(previous, Mapping):
            before = previous.get("available")
            last = previous.get("remaining")
            if _finite(before) and _finite(last):
                available = float(before) + max(0.0, remaining - float(last))
        available = max(available, remaining)
        reading = Reading("credits_used", available - remaining, cap=available)
        return reading, {"available": available, "remaining": remaining}

    def _plan_elapsed(self, plan: GetAccountPlanStateResponse, now: datetime) -> Reading | None:
        """plan_time_used: time since the plan (or its credits) started, against its length."""
        expiry = plan.expiration_date
        if expiry is None:
            log.info("aws: GetAccountPlanState carries no accountPlanExpirationDate")
            return None
        if plan.account_plan_status == "NOT_STARTED":
            log.info("aws: the account plan has not started; plan_time_used left out")
            return None
        months = {"FREE": self.options.free_plan_months, "PAID": self.options.paid_plan_months}
        length_months = months.get(plan.account_plan_type)
        if length_months is None:
            log.warning(
                "aws: unknown accountPlanType %r; plan_time_used left out",
                plan.account_plan_type,
            )
            return None
        start = months_before(expiry, length_months)
        length = (expiry - start).total_seconds()
        used = max(0.0, (now - start).total_seconds())
        return Reading("plan_time_used", used, cap=length)


def _finite(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
