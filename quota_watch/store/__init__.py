"""Storage of readings, rollups, runs and collector state (SQLite or PostgreSQL, async)."""

from quota_watch.store.models import (
    CAP_SOURCES,
    FAILURE_OUTCOMES,
    OUTCOMES,
    SILENCE_MATCHER_KEYS,
    AccountStatus,
    AlertState,
    AlertStatus,
    LatestReading,
    MessageKind,
    OutboxMessage,
    Point,
    RollupPoint,
    RunRecord,
    Severity,
    Silence,
    StoredReading,
    StoreError,
)
from quota_watch.store.store import HEAD_REVISION, Store

__all__ = [
    "CAP_SOURCES",
    "FAILURE_OUTCOMES",
    "HEAD_REVISION",
    "OUTCOMES",
    "SILENCE_MATCHER_KEYS",
    "AccountStatus",
    "AlertState",
    "AlertStatus",
    "LatestReading",
    "MessageKind",
    "OutboxMessage",
    "Point",
    "RollupPoint",
    "RunRecord",
    "Severity",
    "Silence",
    "Store",
    "StoreError",
    "StoredReading",
]
