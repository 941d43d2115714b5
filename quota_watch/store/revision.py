"""The schema revision this release needs, importable without SQLAlchemy."""

from __future__ import annotations

__all__ = ["HEAD_REVISION"]

HEAD_REVISION = "0005"
"""The newest migration; start-up skips importing Alembic when the database is already here."""
