"""Shared constants of the supabase collector's tests: the fixed clock, cycle, token and ids."""

from __future__ import annotations

from datetime import UTC, datetime

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
CYCLE = datetime(2026, 11, 1, tzinfo=UTC)
TOKEN = "sbp_unit0123456789abcdef0123456789abcdef"
ORG = "quiet-river-123"
REF = "abcdefghijklmnopqrst"
