"""Storage of readings, rollups, runs, alerts and collector state (SQLite or PostgreSQL, async).

Nothing is imported here, so that the value objects (``store.models``) and the read-only
SQLite reader (``store.sqlite_reader``) stay cheap to import for the report; the Store itself
is ``quota_watch.store.facade.Store``.
"""
