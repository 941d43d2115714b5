"""Silences: matchers that keep alerts quiet for a while."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta

from sqlalchemy import delete, insert

from quota_watch.model import SILENCE_MATCHER_KEYS, Silence
from quota_watch.store import queries
from quota_watch.store.common import require_aware
from quota_watch.store.engine import StoreBase, fixed_cutoff
from quota_watch.store.models import StoreError
from quota_watch.store.tables import SILENCE

__all__ = ["SilencesMixin"]

_SILENCE_KEEP = timedelta(days=7)  # ended silences stay listable (include_expired) this long


class SilencesMixin(StoreBase):
    """The Store's methods on silences."""

    async def add_silence(self, silence: Silence) -> Silence:
        """Store a new silence (its id must be None); returns it with its id."""
        if silence.id is not None:
            raise ValueError(f"silence already has id {silence.id}")
        matchers = _check_silence(silence)
        row = {
            "matchers": json.dumps(matchers, separators=(",", ":"), sort_keys=True),
            "starts_at": silence.starts_at,
            "ends_at": silence.ends_at,
            "reason": silence.reason,
            "created_by": silence.created_by,
            "created_at": silence.created_at,
        }
        with self._errors("adding a silence"):
            async with self._write() as conn:
                new_id = await conn.scalar(insert(SILENCE).values(row).returning(SILENCE.c.id))
        if new_id is None:  # pragma: no cover - INSERT ... RETURNING always returns the row
            raise StoreError(f"adding a silence on {self.display_url} returned no id")
        return dataclasses.replace(silence, id=int(new_id), matchers=matchers)

    async def list_silences(self, now: datetime, *, include_expired: bool = False) -> list[Silence]:
        """Silences not yet ended at `now` (active or future), by id; or all, if include_expired."""
        require_aware("now", now)
        async with self._reading("listing silences") as rows:
            return await queries.list_silences(rows, now, include_expired)

    async def remove_silence(self, id: int) -> bool:
        """Delete silence `id`; False if there was none."""
        with self._errors("removing a silence"):
            async with self._write() as conn:
                result = await conn.execute(delete(SILENCE).where(SILENCE.c.id == id))
        return bool(result.rowcount)

    async def expire_silences(self, now: datetime) -> int:
        """Delete silences that ended more than 7 days before `now`; returns how many."""
        require_aware("now", now)
        with self._errors("expiring silences"):
            return await self._delete_older(
                SILENCE, (SILENCE.c.id,), SILENCE.c.ends_at, fixed_cutoff(now - _SILENCE_KEEP)
            )


def _check_silence(silence: Silence) -> dict[str, str]:
    """Validate a new silence; returns its matchers as a plain dict."""
    if not silence.matchers:
        raise ValueError("a silence needs at least one matcher (it would silence everything)")
    unknown = sorted(set(silence.matchers) - SILENCE_MATCHER_KEYS)
    if unknown:
        raise ValueError(
            f"unknown silence matcher(s) {', '.join(map(repr, unknown))}: use "
            f"{', '.join(sorted(SILENCE_MATCHER_KEYS))}"
        )
    for key, wanted in silence.matchers.items():
        if not isinstance(wanted, str):
            raise ValueError(f"silence matcher {key!r} must be a string, got {wanted!r}")
    for name in ("starts_at", "ends_at", "created_at"):
        require_aware(name, getattr(silence, name))
    if silence.ends_at <= silence.starts_at:
        raise ValueError(
            f"silence ends_at ({silence.ends_at.isoformat()}) must be after starts_at "
            f"({silence.starts_at.isoformat()})"
        )
    return dict(sorted(silence.matchers.items()))
