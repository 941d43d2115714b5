"""Storage of readings, rollups, runs and collector state (SQLite or PostgreSQL, async).

`Store` (and SQLAlchemy with it) is imported on first use, so that the models and the
read-only SQLite reader stay cheap to import for the report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quota_watch.model import (
    FAILURE_OUTCOMES,
    OUTCOMES,
    SILENCE_MATCHER_KEYS,
    AccountStatus,
    AlertState,
    AlertStatus,
    MessageKind,
    OutboxMessage,
    Severity,
    Silence,
)
from quota_watch.store.models import (
    CAP_SOURCES,
    LatestReading,
    Point,
    RollupPoint,
    RunRecord,
    StoredForecast,
    StoredReading,
    StoreError,
)
from quota_watch.store.revision import HEAD_REVISION

if TYPE_CHECKING:
    from quota_watch.store.store import Store

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
    "StoredForecast",
    "StoredReading",
]


def __getattr__(name: str) -> Any:
    if name == "Store":
        from quota_watch.store.store import Store

        return Store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
