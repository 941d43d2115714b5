"""Cluster membership and leases (docs/cluster.md): cluster_member and cluster_lease.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

_TS = sa.DateTime(timezone=True)

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the tables of members and of leases."""
    op.create_table(
        "cluster_member",
        sa.Column("member", sa.Text(), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("heartbeat_at", _TS, nullable=False),
        sa.Column("listen", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("member", name=op.f("pk_cluster_member")),
    )
    op.create_table(
        "cluster_lease",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("holder", sa.Text(), nullable=True),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("acquired_at", _TS, nullable=False),
        sa.Column("renewed_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cluster_lease")),
    )
    op.create_index(op.f("ix_cluster_lease_holder"), "cluster_lease", ["holder"])


def downgrade() -> None:
    """Drop the tables of this revision."""
    op.drop_index(op.f("ix_cluster_lease_holder"), table_name="cluster_lease")
    op.drop_table("cluster_lease")
    op.drop_table("cluster_member")
