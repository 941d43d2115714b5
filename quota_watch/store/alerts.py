"""Alerts: the alert states, the messages queued with them, and the stored forecasts."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection, Sequence
from typing import Any, get_args

from sqlalchemy import bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from quota_watch.model import (
    AccountStatus,
    AlertState,
    AlertStatus,
    OutboxMessage,
    SeriesKey,
    Severity,
)
from quota_watch.store import outbox, queries
from quota_watch.store.common import check_finite, chunks, require_aware, truncate
from quota_watch.store.engine import StoreBase
from quota_watch.store.models import StoredForecast
from quota_watch.store.tables import ALERT_STATE, OUTBOX, SERIES, SERIES_FORECAST

__all__ = ["AlertsMixin"]

_SEVERITIES = frozenset(get_args(Severity))
_ALERT_STATUSES = frozenset(get_args(AlertStatus))
_ALERT_TIMES = (
    "period_start",
    "period_end",
    "started_at",
    "fired_at",
    "resolved_at",
    "last_notified_at",
    "next_reminder_at",
    "exhausts_at",
    "updated_at",
)


class AlertsMixin(StoreBase):
    """The Store's methods on alert states and stored forecasts."""

    _forecast_upsert: Any = None  # built on first use, then reused

    async def load_alerts(
        self, *, account: str | None = None, include_resolved: bool = False
    ) -> list[AlertState]:
        """Stored alert states (of `account` if given), by account and fingerprint.

        Resolved alerts are left out unless `include_resolved`.
        """
        async with self._reading("loading alert state") as rows:
            return await queries.load_alerts(rows, account, include_resolved)

    async def status_and_alerts(
        self, account: str
    ) -> tuple[AccountStatus | None, list[AlertState]]:
        """What the rules need of `account` besides its samples, in ONE read: its poll health
        (None before its first run) and its alert states, resolved ones left out."""
        async with self._reading("loading account status and alert state") as rows:
            statuses = await queries.account_statuses(rows, account)
            alerts = await queries.load_alerts(rows, account, False)
        return (statuses[0] if statuses else None), alerts

    async def save_alerts(
        self,
        states: Sequence[AlertState],
        messages: Sequence[OutboxMessage],
        delete: Sequence[str] = (),
        *,
        forecasts: Sequence[StoredForecast] = (),
    ) -> list[OutboxMessage]:
        """Upsert `states`, delete the fingerprints `delete`, queue `messages` and replace the
        series' latest `forecasts`: ONE transaction (shared with other writes queued
        meanwhile: the store's group commit).

        Returns the messages as stored, with their ids. States are upserted by fingerprint; of
        several with one fingerprint the last one wins. A forecast of a series the store does
        not hold is ignored. Either everything is written or, on any error, nothing is.
        """
        for forecast in forecasts:
            _check_forecast(forecast)
        newest: dict[str, AlertState] = {}
        for state in states:
            _check_alert(state)
            newest[state.fingerprint] = state
        doomed = list(dict.fromkeys(delete))
        clash = sorted(newest.keys() & set(doomed))
        if clash:
            raise ValueError(f"fingerprints both saved and deleted: {', '.join(clash)}")
        for message in messages:
            outbox.check_message(message)
        if not newest and not doomed and not messages and not forecasts:
            return []
        message_rows = [outbox.message_params(m) for m in messages]

        async def write(conn: AsyncConnection) -> list[int]:
            if forecasts:
                await self._save_forecasts(conn, forecasts)
            if newest:
                await conn.execute(
                    self._alert_upsert(), [_alert_params(s) for s in newest.values()]
                )
            for chunk in chunks(doomed):
                await conn.execute(ALERT_STATE.delete().where(ALERT_STATE.c.fingerprint.in_(chunk)))
            if not message_rows:
                return []
            result = await conn.execute(
                insert(OUTBOX).returning(OUTBOX.c.id, sort_by_parameter_order=True),
                message_rows,
            )
            return [int(i) for i in result.scalars()]

        # In the group commit of the polls that finish together (see record_poll).
        ids: list[int] = await self._group_commit("saving alerts", job=write)
        return [
            dataclasses.replace(m, id=i, last_error=truncate(m.last_error))
            for m, i in zip(messages, ids, strict=True)
        ]

    async def _save_forecasts(
        self, conn: AsyncConnection, forecasts: Sequence[StoredForecast]
    ) -> None:
        newest: dict[tuple[str, str, str], dict[str, Any]] = {}
        for f in forecasts:  # of several for one series the last one wins
            newest[(f.account, f.limit, f.resource or "")] = _forecast_params(f)
        if self._forecast_upsert is None:
            self._forecast_upsert = self._build_forecast_upsert()
        # One statement, no id lookup first: it runs after every poll, inside the alert
        # states' transaction, and each round trip through the driver's thread counts.
        await conn.execute(self._forecast_upsert, list(newest.values()))

    def _build_forecast_upsert(self) -> Any:
        columns = [c for c in SERIES_FORECAST.c if c.name != "series_id"]
        values = [bindparam(f"p_{c.name}", type_=c.type) for c in columns]
        source = select(SERIES.c.id, *values).where(
            SERIES.c.account == bindparam("p_account"),
            SERIES.c.limit == bindparam("p_limit"),
            SERIES.c.resource == bindparam("p_resource"),
        )
        stmt = self._insert(SERIES_FORECAST).from_select(
            [c.name for c in SERIES_FORECAST.c], source
        )
        return stmt.on_conflict_do_update(
            index_elements=["series_id"],
            set_={c.name: stmt.excluded[c.name] for c in SERIES_FORECAST.c},
        )

    async def forecasts_of_accounts(
        self, accounts: Collection[str]
    ) -> dict[SeriesKey, StoredForecast]:
        """The latest stored forecast of every series of `accounts`, by (account, limit,
        resource): one query."""
        async with self._reading("reading forecasts") as rows:
            return await queries.forecasts_of_accounts(rows, accounts)

    def _alert_upsert(self) -> Any:
        stmt = self._insert(ALERT_STATE)
        return stmt.on_conflict_do_update(
            index_elements=["fingerprint"],
            set_={
                name: stmt.excluded[name] for name in queries.ALERT_FIELDS if name != "fingerprint"
            },
        )


def _check_alert(state: AlertState) -> None:
    """Refuse what the database would store differently on each backend, or not at all."""
    what = f"alert {state.fingerprint!r}"
    if not state.fingerprint:
        raise ValueError("alert fingerprint must not be empty")
    if state.status not in _ALERT_STATUSES:
        raise ValueError(
            f"{what}: status must be one of {sorted(_ALERT_STATUSES)}, got {state.status!r}"
        )
    if state.severity not in _SEVERITIES:
        raise ValueError(
            f"{what}: severity must be one of {sorted(_SEVERITIES)}, got {state.severity!r}"
        )
    if state.pending_runs < 0:
        raise ValueError(f"{what}: pending_runs must be >= 0, got {state.pending_runs}")
    for name in ("value", "reminder_interval_seconds", "cap", "ratio", "forecast_value"):
        check_finite(what, name, getattr(state, name))
    for name in _ALERT_TIMES:
        moment = getattr(state, name)
        if moment is not None:
            require_aware(f"{what}: {name}", moment)


def _check_forecast(forecast: StoredForecast) -> None:
    require_aware("computed_at", forecast.computed_at)
    if forecast.exhausts_at is not None:
        require_aware("exhausts_at", forecast.exhausts_at)
    for name in ("value", "cap", "ratio", "forecast_value", "forecast_utilization", "rate"):
        check_finite("forecast", name, getattr(forecast, name))


def _forecast_params(forecast: StoredForecast) -> dict[str, Any]:
    params = {f"p_{name}": getattr(forecast, name) for name in queries.FORECAST_FIELDS}
    params["p_notes"] = json.dumps(list(forecast.notes))
    params["p_account"] = forecast.account
    params["p_limit"] = forecast.limit
    params["p_resource"] = forecast.resource or ""
    return params


def _alert_params(state: AlertState) -> dict[str, Any]:
    return {name: getattr(state, name) for name in queries.ALERT_FIELDS}
