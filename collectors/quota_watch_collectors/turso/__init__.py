"""Turso: rows read and written, storage, databases and syncs against the plan quotas."""
