"""A series' period zone and the provider's own forecast (Reading.period_zone, .forecast).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the nullable columns period_zone and forecast to series."""
    op.add_column("series", sa.Column("period_zone", sa.Text(), nullable=True))
    op.add_column("series", sa.Column("forecast", sa.Float(), nullable=True))


def downgrade() -> None:
    """Drop the columns of this revision."""
    with op.batch_alter_table("series") as batch:
        batch.drop_column("forecast")
        batch.drop_column("period_zone")
