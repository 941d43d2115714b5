"""Fencing tokens: a write made under a lease commits only while the lease is still held.

A cluster member (quota_watch.cluster) runs an account's poll and alert evaluation inside
``fenced(Fence(...))``; every write transaction the Store opens in that context first locks the
lease row and checks holder and epoch (PostgreSQL only; a single daemon sets no fence).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from quota_watch.store.models import StoreError

__all__ = ["Fence", "LeaseLost", "check_fence", "current_fence", "fenced"]


@dataclass(frozen=True)
class Fence:
    """The lease a write depends on: its name, the member holding it and the epoch it got."""

    lease: str
    holder: str
    epoch: int
    idle_timeout_ms: int = 10_000


class LeaseLost(StoreError):
    """The lease a fenced write depends on has moved on: nothing was written."""


_CURRENT: ContextVar[Fence | None] = ContextVar("quota_watch_fence", default=None)

# FOR SHARE: the holder's row lock makes a takeover (an UPDATE of the row) wait until this
# write has committed or rolled back, so a write never lands after its lease changed hands.
_CHECK = text(
    "SELECT 1 FROM cluster_lease WHERE name = :lease AND holder = :holder AND epoch = :epoch "
    "AND expires_at > clock_timestamp() FOR SHARE"
)


def current_fence() -> Fence | None:
    """The fence of the running task, if any."""
    return _CURRENT.get()


@contextlib.contextmanager
def fenced(fence: Fence | None) -> Iterator[None]:
    """Make every store write in this context (and the tasks it starts) depend on `fence`."""
    token = _CURRENT.set(fence)
    try:
        yield
    finally:
        _CURRENT.reset(token)


async def check_fence(conn: AsyncConnection, fence: Fence) -> None:
    """Inside a write transaction: lock the lease row, or raise LeaseLost when not ours."""
    # A member frozen (SIGSTOP) inside this transaction would keep the row lock forever;
    # PostgreSQL ends such a session instead, and its write is rolled back.
    await conn.execute(
        text(f"SET LOCAL idle_in_transaction_session_timeout = {int(fence.idle_timeout_ms)}")
    )
    held = await conn.scalar(
        _CHECK, {"lease": fence.lease, "holder": fence.holder, "epoch": fence.epoch}
    )
    if held is None:
        raise LeaseLost(
            f"lease {fence.lease} epoch {fence.epoch} is no longer held by {fence.holder}: "
            "write refused"
        )
