"""The daemon's latest forecast per series.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain types, as in 0001: a migration must not change meaning when application code does.
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the series_forecast table."""
    op.create_table(
        "series_forecast",
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("computed_at", _TS, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("sustained", sa.Boolean(), nullable=True),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("cap", sa.Float(), nullable=True),
        sa.Column("ratio", sa.Float(), nullable=True),
        sa.Column("forecast_value", sa.Float(), nullable=True),
        sa.Column("forecast_utilization", sa.Float(), nullable=True),
        sa.Column("exhausts_at", _TS, nullable=True),
        sa.Column("rate", sa.Float(), nullable=True),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("points_used", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["series.id"],
            name="fk_series_forecast_series_id_series",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("series_id", name="pk_series_forecast"),
    )


def downgrade() -> None:
    """Drop the table of this revision."""
    op.drop_table("series_forecast")
