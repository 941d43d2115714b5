"""Initial schema: series, samples, rollups, collector runs, account status, collector state.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain types, not the application's TypeDecorator: a migration must not change meaning when
# application code does. DateTime(timezone=True) is timestamptz on PostgreSQL and text on SQLite.
_TS = sa.DateTime(timezone=True)


def _series_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["series_id"], ["series.id"], name=f"fk_{table}_series_id_series", ondelete="CASCADE"
    )


def upgrade() -> None:
    """Create every table of the first schema."""
    op.create_table(
        "series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("limit", sa.Text(), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("measure", sa.Text(), nullable=False),
        sa.Column("cap_source", sa.Text(), nullable=False),
        sa.Column("last_ts", _TS, nullable=False),
        sa.Column("last_value", sa.Float(), nullable=False),
        sa.Column("last_cap", sa.Float(), nullable=True),
        sa.Column("period_start", _TS, nullable=True),
        sa.Column("period_end", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_series"),
        sa.UniqueConstraint(
            "account", "limit", "resource", name="uq_series_account_limit_resource"
        ),
    )
    op.create_table(
        "sample",
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("ts", _TS, nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("cap", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("series_id", "ts", name="pk_sample"),
        _series_fk("sample"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_sample_ts", "sample", ["ts"])
    for table in ("rollup_hourly", "rollup_daily"):
        op.create_table(
            table,
            sa.Column("series_id", sa.Integer(), nullable=False),
            sa.Column("bucket_start", _TS, nullable=False),
            sa.Column("min", sa.Float(), nullable=False),
            sa.Column("max", sa.Float(), nullable=False),
            sa.Column("last", sa.Float(), nullable=False),
            sa.Column("count", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("series_id", "bucket_start", name=f"pk_{table}"),
            _series_fk(table),
            sqlite_with_rowid=False,
        )
        op.create_index(f"ix_{table}_bucket_start", table, ["bucket_start"])
    op.create_table(
        "rollup_state",
        sa.Column("granularity", sa.Text(), nullable=False),
        sa.Column("rolled_until", _TS, nullable=False),
        sa.PrimaryKeyConstraint("granularity", name="pk_rollup_state"),
    )
    op.create_table(
        "collector_run",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("readings", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_collector_run"),
    )
    op.create_index("ix_collector_run_started_at", "collector_run", ["started_at"])
    op.create_table(
        "account_status",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("last_run_at", _TS, nullable=False),
        sa.Column("last_success_at", _TS, nullable=True),
        sa.Column("last_outcome", sa.Text(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_duration_seconds", sa.Float(), nullable=False),
        sa.Column("runs_total", sa.BigInteger(), nullable=False),
        sa.Column("failures_total", sa.BigInteger(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("account", name="pk_account_status"),
    )
    op.create_table(
        "collector_state",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("account", "key", name="pk_collector_state"),
    )


def downgrade() -> None:
    """Drop every table of the first schema."""
    for table in (
        "collector_state",
        "account_status",
        "collector_run",
        "rollup_state",
        "rollup_daily",
        "rollup_hourly",
        "sample",
        "series",
    ):
        op.drop_table(table)
