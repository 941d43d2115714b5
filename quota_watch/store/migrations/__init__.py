"""Alembic migrations of the store; applied by Store.migrate(), never by an alembic.ini."""
