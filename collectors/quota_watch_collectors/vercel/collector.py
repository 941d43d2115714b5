"""The vercel collector: Hobby usage over the rolling window, summed from the FOCUS charges feed."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, ClassVar, NoReturn
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError

from quota_watch.sdk import (
    AuthError,
    CollectContext,
    CollectorBase,
    LimitSpec,
    NoData,
    RateLimitStatus,
    Reading,
    UnexpectedResponse,
)
from quota_watch_collectors.vercel.client import (
    RateLimitReporter,
    charges_url,
    error_code,
    fetch_charges,
    format_instant,
    is_auth_code,
)
from quota_watch_collectors.vercel.models import FocusCharge
from quota_watch_collectors.vercel.options import (
    VercelOptions,
    normalize_service,
    normalize_unit,
)

if TYPE_CHECKING:
    import httpx

__all__ = ["VercelCollector", "usage_window"]

log = logging.getLogger(__name__)

_SHOWN_NAMES = 10
_NOT_JSON = object()


def usage_window(now: datetime, days: int, tz: str) -> tuple[datetime, datetime]:
    """[start, now): `days` local days in `tz` ending with today, as the Hobby window counts them.

    The start is local midnight of the first day (Vercel's day rows begin at midnight
    America/Los_Angeles), converted to UTC.
    """
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, time(), tzinfo=zone).astimezone(UTC)
    return start, now.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class _Table:
    """The options' service table, normalized once: service -> limit, limit -> unit factors."""

    limit_of: dict[str, str]
    factors: dict[str, dict[str, float]]

    @classmethod
    def of(cls, options: VercelOptions) -> _Table:
        limit_of: dict[str, str] = {}
        factors: dict[str, dict[str, float]] = {}
        for limit, match in sorted(options.services.items()):
            if not match.names:  # an account switched this limit off
                continue
            factors[limit] = match.unit_factors()
            for name in match.names:
                limit_of[normalize_service(name)] = limit
        return cls(limit_of, factors)


@dataclass
class _Tally:
    """Sums the feed's Usage rows per limit, line by line, without keeping the rows."""

    table: _Table
    where: str
    rows: int = 0
    usage_rows: int = 0
    sums: dict[str, float] = field(default_factory=dict)
    bad_units: dict[str, set[str]] = field(default_factory=dict)
    null_rows: dict[str, int] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)

    def add(self, number: int, line: bytes) -> None:
        """Parse and count one body line (blank lines are allowed and skipped)."""
        if not line.strip():
            return
        row: FocusCharge | None = None
        problems: list[str] = []
        try:
            row = FocusCharge.model_validate_json(line)
        except ValidationError as exc:
            problems = [
                f"field {'.'.join(str(p) for p in err['loc']) or '<row>'}: {err['msg']}"
                for err in exc.errors(include_input=False, include_url=False)
            ]
        if row is None:
            # Outside the except clause: a ValidationError quotes the line it refused.
            self._fail(number, line, problems)
        self.rows += 1
        if not row.is_usage:
            return
        self.usage_rows += 1
        limit = self.table.limit_of.get(normalize_service(row.service_name))
        if limit is None:
            self.unknown.add(row.service_name)
            return
        if row.consumed_quantity is None:
            self.null_rows[limit] = self.null_rows.get(limit, 0) + 1
            return
        unit = row.consumed_unit or ""
        factor = self.table.factors[limit].get(normalize_unit(unit))
        if factor is None:
            self.bad_units.setdefault(limit, set()).add(unit or "<none>")
            return
        self.sums[limit] = self.sums.get(limit, 0.0) + row.consumed_quantity * factor

    def _fail(self, number: int, line: bytes, problems: list[str]) -> NoReturn:
        at = f"{self.where}: line {number}"
        try:
            document = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            document = _NOT_JSON
        if document is _NOT_JSON:
            raise UnexpectedResponse(f"{at} is not JSON: the body is not JSONL")
        if not isinstance(document, dict):
            raise UnexpectedResponse(f"{at} is a JSON {type(document).__name__}, not an object")
        if "error" in document:
            code = error_code(line)
            shown = f" ({code})" if code else ""
            if is_auth_code(code):
                raise AuthError(f"{at}: HTTP 200 carrying an auth error{shown}")
            raise UnexpectedResponse(f"{at}: HTTP 200 carrying an error body{shown}")
        shown = "; ".join(problems)
        raise UnexpectedResponse(f"{at}: not a FOCUS charge as known ({shown})")


class VercelCollector(CollectorBase):
    """Vercel Hobby: edge requests, transfer, functions, builds and images from the billing feed."""

    name: ClassVar[str] = "vercel"
    Options: ClassVar[type[BaseModel]] = VercelOptions

    options: VercelOptions

    def __init__(
        self,
        options: VercelOptions,
        client: httpx.AsyncClient,
        limits: Mapping[str, LimitSpec] | None = None,
    ) -> None:
        super().__init__(options, client, limits)
        self._table = _Table.of(options)
        self._where = f"GET {charges_url(options)}"
        self._logged_unknown: set[str] = set()
        self._last_absent: list[str] = []

    async def probe(self) -> None:
        """Today's charges: proves the token, the team and the billing permission."""
        now = datetime.now(UTC)
        start, end = usage_window(now, 1, self.options.billing_tz)
        tally = _Tally(self._table, self._where)
        await self._fetch(tally, start, end, now, None)

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """One request for the window; one reading per limit whose rows Vercel returned."""
        start, end = usage_window(ctx.now, self.options.window_days, self.options.billing_tz)
        tally = _Tally(self._table, self._where)

        def report(status: RateLimitStatus) -> None:
            ctx.report_rate_limit(status.remaining, status.limit, status.resets_at)

        await self._fetch(tally, start, end, ctx.now, report)
        return self._readings(tally, start, end)

    async def _fetch(
        self,
        tally: _Tally,
        start: datetime,
        end: datetime,
        now: datetime,
        report: RateLimitReporter | None,
    ) -> None:
        await fetch_charges(
            self.client,
            self.options,
            start=start,
            end=end,
            now=now,
            on_line=tally.add,
            on_rate_limit=report,
        )

    def _readings(self, tally: _Tally, start: datetime, end: datetime) -> list[Reading]:
        span = f"{format_instant(start)} to {format_instant(end)}"
        if tally.rows == 0:
            raise NoData(
                f"Vercel returned no usage rows for this Hobby team ({span}): usage is unknown, "
                "not zero (the billing feed may carry nothing for Hobby teams)"
            )
        self._log_unknown(tally.unknown)
        readings: list[Reading] = []
        absent: list[str] = []
        for limit in sorted(self._table.factors):
            if limit in tally.bad_units:
                units = ", ".join(repr(u) for u in sorted(tally.bad_units[limit]))
                log.warning(
                    "vercel: %s left out: ConsumedUnit %s is not in its unit table "
                    "(add it under [accounts.options.services.%s].units)",
                    limit,
                    units,
                    limit,
                )
            elif limit in tally.sums:
                total = tally.sums[limit]
                if total < 0:
                    log.warning("vercel: %s left out: its rows sum to %g (< 0)", limit, total)
                    continue
                readings.append(Reading(limit, total, period_start=start))
            elif self.options.absent_service_is_zero and tally.usage_rows > 0:
                readings.append(Reading(limit, 0.0, period_start=start))
            else:
                nulls = tally.null_rows.get(limit, 0)
                absent.append(
                    f"{limit} ({nulls} rows without ConsumedQuantity)" if nulls else limit
                )
        self._log_absent(absent, span)
        if not readings:
            names = sorted(tally.unknown)
            shown = ", ".join(repr(n) for n in names[:_SHOWN_NAMES])
            more = f" and {len(names) - _SHOWN_NAMES} more" if len(names) > _SHOWN_NAMES else ""
            raise NoData(
                f"none of the {tally.rows} charge rows Vercel returned ({span}) could be read "
                f"for a known limit; unknown ServiceNames: {shown or 'none'}{more}"
            )
        return readings

    def _log_absent(self, absent: list[str], span: str) -> None:
        if not absent:
            return
        # A team on Fluid compute never has legacy rows (and the reverse): say it at INFO when
        # the set changes, not on every poll.
        level = logging.DEBUG if absent == self._last_absent else logging.INFO
        self._last_absent = absent
        log.log(
            level,
            "vercel: left out (no rows for %s, so unknown, not 0): %s",
            span,
            ", ".join(absent),
        )

    def _log_unknown(self, names: set[str]) -> None:
        for name in sorted(names - self._logged_unknown):
            log.debug("vercel: ignoring rows of ServiceName %r (not in the service table)", name)
        self._logged_unknown |= names
