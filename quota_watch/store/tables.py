"""SQLModel tables of the store and the UTC datetime column type they share."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
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
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import registry
from sqlalchemy.types import TypeEngine
from sqlmodel import Field, SQLModel

__all__ = [
    "ACCOUNT_STATUS",
    "COLLECTOR_RUN",
    "COLLECTOR_STATE",
    "METADATA",
    "ROLLUP_DAILY",
    "ROLLUP_HOURLY",
    "ROLLUP_STATE",
    "SAMPLE",
    "SERIES",
    "SQLITE_DATETIME_FORMAT",
    "AccountStatusRow",
    "CollectorRunRow",
    "CollectorStateRow",
    "RollupDailyRow",
    "RollupHourlyRow",
    "RollupStateRow",
    "SampleRow",
    "SeriesRow",
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
