"""SQLModel tables of the store and the UTC datetime column type they share."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import registry
from sqlalchemy.types import TypeEngine
from sqlmodel import Field, SQLModel

__all__ = [
    "ACCOUNT_STATUS",
    "ALERT_STATE",
    "CLUSTER_LEASE",
    "CLUSTER_MEMBER",
    "COLLECTOR_RUN",
    "COLLECTOR_STATE",
    "METADATA",
    "OUTBOX",
    "ROLLUP_DAILY",
    "ROLLUP_HOURLY",
    "ROLLUP_STATE",
    "SAMPLE",
    "SERIES",
    "SERIES_FORECAST",
    "SILENCE",
    "SQLITE_DATETIME_FORMAT",
    "AccountStatusRow",
    "AlertStateRow",
    "ClusterLeaseRow",
    "ClusterMemberRow",
    "CollectorRunRow",
    "CollectorStateRow",
    "OutboxRow",
    "RollupDailyRow",
    "RollupHourlyRow",
    "RollupStateRow",
    "SampleRow",
    "SeriesForecastRow",
    "SeriesRow",
    "SilenceRow",
    "UTCDateTime",
]

# Fixed-width text so that SQLite compares datetimes correctly as strings; the rollup SQL
# builds bucket starts in exactly this shape.
SQLITE_DATETIME_FORMAT = (
    "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"
)

METADATA = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes: naive UTC text on SQLite, timestamptz on PostgreSQL; refuses naive."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """Pick the storage type of the dialect."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(
                # No custom regexp: reading then stays on SQLAlchemy's fast ISO parser.
                sqlite.DATETIME(storage_format=SQLITE_DATETIME_FORMAT)  # type: ignore[no-untyped-call]
            )
        if dialect.name == "postgresql":
            from sqlalchemy.dialects import postgresql  # not loaded by a SQLite daemon

            return dialect.type_descriptor(postgresql.TIMESTAMP(timezone=True))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert an aware datetime to UTC (naive on SQLite); refuse naive ones."""
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"naive datetime {value.isoformat()} refused: the store needs timezone-aware "
                "datetimes"
            )
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime."""
        if value is None or value.tzinfo is UTC:
            return value
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def result_processor(
        self, dialect: Dialect, coltype: Any
    ) -> Callable[[Any], datetime | None] | None:
        """On SQLite parse the stored text straight into an aware datetime (a hot path)."""
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        parse = datetime.fromisoformat
        fallback = super().result_processor(dialect, coltype)

        # /metrics reads every series' datetimes on each scrape: one C-level parse of
        # "...+00:00" is several times cheaper than parsing and then attaching the zone.
        def process(value: Any) -> datetime | None:
            if isinstance(value, str):
                return parse(value + "+00:00")
            return fallback(value) if fallback is not None else value

        return process


def _ts(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_type=UTCDateTime, nullable=nullable, index=index)


class StoreModel(SQLModel, registry=registry(metadata=METADATA)):
    """Base of the store's tables: their own metadata, with constraint naming conventions."""


class SeriesRow(StoreModel, table=True):
    """One series (account, limit, resource) and its latest reading: /metrics is one scan."""

    __tablename__ = "series"
    __table_args__ = (UniqueConstraint("account", "limit", "resource"),)

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(sa_type=Text)
    account: str = Field(sa_type=Text)
    limit: str = Field(sa_type=Text)
    resource: str = Field(sa_type=Text)  # '' for none: NULLs would defeat the unique constraint
    unit: str = Field(sa_type=Text)
    measure: str = Field(sa_type=Text)
    cap_source: str = Field(sa_type=Text)
    last_ts: datetime = _ts()
    last_value: float = Field(sa_type=Float)
    last_cap: float | None = Field(default=None, sa_type=Float)
    period_start: datetime | None = _ts(nullable=True)
    period_end: datetime | None = _ts(nullable=True)
    period_zone: str | None = Field(default=None, sa_type=Text)
    forecast: float | None = Field(default=None, sa_type=Float)  # the provider's, latest


class SampleRow(StoreModel, table=True):
    """One raw sample of a series."""

    __tablename__ = "sample"
    __table_args__ = (
        PrimaryKeyConstraint("series_id", "ts"),
        Index(None, "ts"),
        {"sqlite_with_rowid": False},
    )

    series_id: int = Field(
        sa_column=Column(Integer, ForeignKey("series.id", ondelete="CASCADE"), nullable=False)
    )
    ts: datetime = _ts()
    value: float = Field(sa_type=Float)
    cap: float | None = Field(default=None, sa_type=Float)


def _rollup_table_args() -> tuple[Any, ...]:
    return (
        PrimaryKeyConstraint("series_id", "bucket_start"),
        Index(None, "bucket_start"),
        {"sqlite_with_rowid": False},
    )


class RollupHourlyRow(StoreModel, table=True):
    """Hourly min/max/last/count of a series' samples (UTC hours)."""

    __tablename__ = "rollup_hourly"
    __table_args__ = _rollup_table_args()

    series_id: int = Field(
        sa_column=Column(Integer, ForeignKey("series.id", ondelete="CASCADE"), nullable=False)
    )
    bucket_start: datetime = _ts()
    min: float = Field(sa_type=Float)
    max: float = Field(sa_type=Float)
    last: float = Field(sa_type=Float)
    count: int = Field(sa_type=Integer)


class RollupDailyRow(StoreModel, table=True):
    """Daily min/max/last/count of a series (UTC days), folded from the hourly rollup."""

    __tablename__ = "rollup_daily"
    __table_args__ = _rollup_table_args()

    series_id: int = Field(
        sa_column=Column(Integer, ForeignKey("series.id", ondelete="CASCADE"), nullable=False)
    )
    bucket_start: datetime = _ts()
    min: float = Field(sa_type=Float)
    max: float = Field(sa_type=Float)
    last: float = Field(sa_type=Float)
    count: int = Field(sa_type=Integer)


class RollupStateRow(StoreModel, table=True):
    """How far each rollup granularity has folded: everything before rolled_until is done."""

    __tablename__ = "rollup_state"

    granularity: str = Field(sa_type=Text, primary_key=True)  # "hour" | "day"
    rolled_until: datetime = _ts()


class CollectorRunRow(StoreModel, table=True):
    """One collector run (kept for the runs retention period)."""

    __tablename__ = "collector_run"

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    provider: str = Field(sa_type=Text)
    account: str = Field(sa_type=Text)
    started_at: datetime = _ts(index=True)
    finished_at: datetime = _ts()
    outcome: str = Field(sa_type=Text)
    error: str | None = Field(default=None, sa_type=Text)
    readings: int = Field(sa_type=Integer)


class AccountStatusRow(StoreModel, table=True):
    """Poll health of one account: last run, last success, counters."""

    __tablename__ = "account_status"

    account: str = Field(sa_type=Text, primary_key=True)
    provider: str = Field(sa_type=Text)
    last_run_at: datetime = _ts()
    last_success_at: datetime | None = _ts(nullable=True)
    last_outcome: str = Field(sa_type=Text)
    last_error: str | None = Field(default=None, sa_type=Text)
    last_duration_seconds: float = Field(sa_type=Float)
    runs_total: int = Field(sa_type=BigInteger)
    failures_total: int = Field(sa_type=BigInteger)
    consecutive_failures: int = Field(sa_type=Integer)


class CollectorStateRow(StoreModel, table=True):
    """A collector's persistent scratch space, one JSON value per key."""

    __tablename__ = "collector_state"

    account: str = Field(sa_type=Text, primary_key=True)
    key: str = Field(sa_type=Text, primary_key=True)
    value: str = Field(sa_type=Text)  # JSON


def _id_column() -> Any:
    # BIGINT on PostgreSQL; on SQLite INTEGER PRIMARY KEY, the rowid alias (the tables add
    # AUTOINCREMENT so that an id shown to a person is never handed out again).
    return Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
    )


class AlertStateRow(StoreModel, table=True):
    """One alert per fingerprint: the state machine's memory and the current figures."""

    __tablename__ = "alert_state"
    __table_args__ = (Index(None, "account"),)

    fingerprint: str = Field(sa_type=Text, primary_key=True)
    kind: str = Field(sa_type=Text)
    alertname: str = Field(sa_type=Text)
    provider: str = Field(sa_type=Text)
    account: str = Field(sa_type=Text)
    group: str | None = Field(default=None, sa_type=Text)
    limit: str | None = Field(default=None, sa_type=Text)
    resource: str | None = Field(default=None, sa_type=Text)
    period_start: datetime | None = _ts(nullable=True)
    period_end: datetime | None = _ts(nullable=True)
    status: str = Field(sa_type=Text)  # pending | firing | resolved
    severity: str = Field(sa_type=Text)  # info | warning | critical
    pending_runs: int = Field(sa_type=Integer)
    started_at: datetime = _ts()
    fired_at: datetime | None = _ts(nullable=True)
    resolved_at: datetime | None = _ts(nullable=True)
    last_notified_at: datetime | None = _ts(nullable=True)
    next_reminder_at: datetime | None = _ts(nullable=True)
    reminder_interval_seconds: float = Field(sa_type=Float)
    value: float = Field(sa_type=Float)
    cap: float | None = Field(default=None, sa_type=Float)
    ratio: float | None = Field(default=None, sa_type=Float)
    forecast_value: float | None = Field(default=None, sa_type=Float)
    exhausts_at: datetime | None = _ts(nullable=True)
    unit: str = Field(sa_type=Text)
    updated_at: datetime = _ts()


class OutboxRow(StoreModel, table=True):
    """One message to one notifier; sent_at stays NULL until delivery succeeded."""

    __tablename__ = "outbox"
    # Serves the due scan (sent_at IS NULL AND next_attempt_at <= now) and retention
    # (sent_at < cutoff) alike.
    __table_args__ = (Index(None, "sent_at", "next_attempt_at"), {"sqlite_autoincrement": True})

    id: int | None = _id_column()
    notifier: str = Field(sa_type=Text)
    fingerprint: str | None = Field(default=None, sa_type=Text)  # no FK: outlives its alert
    kind: str = Field(sa_type=Text)
    severity: str = Field(sa_type=Text)
    title: str = Field(sa_type=Text)
    body_text: str = Field(sa_type=Text)
    body_markdown: str = Field(sa_type=Text)
    created_at: datetime = _ts()
    next_attempt_at: datetime = _ts()
    attempts: int = Field(sa_type=Integer)
    last_attempt_at: datetime | None = _ts(nullable=True)
    sent_at: datetime | None = _ts(nullable=True)
    last_error: str | None = Field(default=None, sa_type=Text)


class SilenceRow(StoreModel, table=True):
    """A silence: alerts matching every matcher send nothing between starts_at and ends_at."""

    __tablename__ = "silence"
    __table_args__ = (Index(None, "ends_at"), {"sqlite_autoincrement": True})

    id: int | None = _id_column()
    matchers: str = Field(sa_type=Text)  # JSON object of str -> str
    starts_at: datetime = _ts()
    ends_at: datetime = _ts()
    reason: str = Field(sa_type=Text)
    created_by: str = Field(sa_type=Text)
    created_at: datetime = _ts()


class SeriesForecastRow(StoreModel, table=True):
    """The daemon's latest forecast of a series (one row per series, replaced after each poll),
    so that the report need not refit every series."""

    __tablename__ = "series_forecast"

    series_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("series.id", ondelete="CASCADE"), primary_key=True, nullable=False
        )
    )
    computed_at: datetime = _ts()
    active: bool = Field(sa_type=Boolean)
    sustained: bool | None = Field(default=None, sa_type=Boolean)
    severity: str = Field(sa_type=Text)
    value: float = Field(sa_type=Float)
    cap: float | None = Field(default=None, sa_type=Float)
    ratio: float | None = Field(default=None, sa_type=Float)
    forecast_value: float | None = Field(default=None, sa_type=Float)
    forecast_utilization: float | None = Field(default=None, sa_type=Float)
    exhausts_at: datetime | None = _ts(nullable=True)
    rate: float | None = Field(default=None, sa_type=Float)
    unit: str = Field(sa_type=Text)
    points_used: int = Field(sa_type=Integer)
    notes: str = Field(sa_type=Text)  # JSON array of strings


class ClusterMemberRow(StoreModel, table=True):
    """A daemon of a cluster (docs/cluster.md): live while heartbeat_at is within the lease."""

    __tablename__ = "cluster_member"

    member: str = Field(sa_type=Text, primary_key=True)
    started_at: datetime = _ts()
    heartbeat_at: datetime = _ts()
    listen: str = Field(sa_type=Text)


class ClusterLeaseRow(StoreModel, table=True):
    """Who may work on one account (name "account:<name>") or the singletons ("singleton");
    epoch grows at every change of holder: the fencing token writes are checked against."""

    __tablename__ = "cluster_lease"
    __table_args__ = (Index(None, "holder"),)

    name: str = Field(sa_type=Text, primary_key=True)
    holder: str | None = Field(default=None, sa_type=Text)
    epoch: int = Field(sa_type=BigInteger)
    acquired_at: datetime = _ts()
    renewed_at: datetime = _ts()
    expires_at: datetime = _ts()


def _table(name: str) -> Table:
    return METADATA.tables[name]


SERIES = _table("series")
SAMPLE = _table("sample")
ROLLUP_HOURLY = _table("rollup_hourly")
ROLLUP_DAILY = _table("rollup_daily")
ROLLUP_STATE = _table("rollup_state")
COLLECTOR_RUN = _table("collector_run")
ACCOUNT_STATUS = _table("account_status")
COLLECTOR_STATE = _table("collector_state")
ALERT_STATE = _table("alert_state")
OUTBOX = _table("outbox")
SILENCE = _table("silence")
SERIES_FORECAST = _table("series_forecast")
CLUSTER_MEMBER = _table("cluster_member")
CLUSTER_LEASE = _table("cluster_lease")
