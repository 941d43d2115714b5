"""Silences as the command line handles them: parse matchers, create, list, remove."""

from __future__ import annotations

import getpass
from datetime import datetime, timedelta

from quota_watch.model import SILENCE_MATCHER_KEYS, Silence


def parse_matchers(text: str) -> dict[str, str]:
    """`key=value[,key=value]` into matchers; ValueError naming the bad part otherwise."""
    matchers: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise ValueError(f"{part!r} is not key=value")
        if key not in SILENCE_MATCHER_KEYS:
            allowed = ", ".join(sorted(SILENCE_MATCHER_KEYS))
            raise ValueError(f"unknown key {key!r} (use {allowed})")
        matchers[key] = value
    if not matchers:
        raise ValueError("give at least one key=value")
    return matchers


def new_silence(matchers: dict[str, str], length: timedelta, reason: str, now: datetime) -> Silence:
    """A silence starting `now`, lasting `length`, created by the current user."""
    return Silence(
        id=None,
        matchers=matchers,
        starts_at=now,
        ends_at=now + length,
        reason=reason,
        created_by=getpass.getuser(),
        created_at=now,
    )


def silence_state(silence: Silence, now: datetime) -> str:
    """active, expired or pending at `now`."""
    if silence.active(now):
        return "active"
    return "expired" if silence.ends_at <= now else "pending"


async def add_silence(url: str, silence: Silence) -> Silence:
    """Store `silence` in the store at `url`; the stored silence (with its ID)."""
    from quota_watch.store.facade import Store

    async with await Store.open(url) as store:
        return await store.add_silence(silence)


async def list_silences(url: str, now: datetime, *, include_expired: bool) -> list[Silence]:
    """The silences in force at `now` (and expired ones with `include_expired`)."""
    from quota_watch.store.facade import Store

    async with await Store.open(url) as store:
        return await store.list_silences(now, include_expired=include_expired)


async def remove_silence(url: str, silence_id: int) -> bool:
    """End silence `silence_id` now; False when there is none with that ID."""
    from quota_watch.store.facade import Store

    async with await Store.open(url) as store:
        return await store.remove_silence(silence_id)
