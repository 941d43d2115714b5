"""The Store: async repository over SQLite (aiosqlite, WAL) or PostgreSQL (asyncpg)."""

from __future__ import annotations

from quota_watch.store.alerts import AlertsMixin
from quota_watch.store.backup import BackupMixin
from quota_watch.store.maintenance import MaintenanceMixin
from quota_watch.store.outbox import OutboxMixin
from quota_watch.store.readings import ReadingsMixin
from quota_watch.store.silences import SilencesMixin

__all__ = ["Store"]


class Store(
    ReadingsMixin,
    AlertsMixin,
    SilencesMixin,
    MaintenanceMixin,
    OutboxMixin,
    BackupMixin,
):
    """Repository of series, samples, rollups, runs, account status, collector state, alert
    states, the outbox and silences.

    Create it with ``await Store.open(url)``; every method is a short transaction. Each
    aggregate's methods live in their own module (readings, alerts, outbox, silences,
    maintenance, backup) on the shared plumbing of :class:`~quota_watch.store.engine.StoreBase`.
    """
