"""The SQL of membership and leases (PostgreSQL; all times from the database's clock)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = [
    "ACCOUNT_PREFIX",
    "SINGLETON",
    "LeaseRow",
    "MemberRow",
    "account_lease",
    "acquire",
    "heartbeat",
    "leave",
    "live_members",
    "read_leases",
    "read_members",
    "release",
    "renew",
]

ACCOUNT_PREFIX = "account:"
SINGLETON = "singleton"  # rollup, retention, pool planning, heartbeat ping, retiring accounts


def account_lease(account: str) -> str:
    """The lease name of an account."""
    return ACCOUNT_PREFIX + account


_HEARTBEAT = text(
    "INSERT INTO cluster_member (member, started_at, heartbeat_at, listen) "
    "VALUES (:member, clock_timestamp(), clock_timestamp(), :listen) "
    "ON CONFLICT (member) DO UPDATE SET heartbeat_at = clock_timestamp(), listen = :listen"
)
_LIVE = text(
    "SELECT member FROM cluster_member "
    "WHERE heartbeat_at > clock_timestamp() - make_interval(secs => :lease)"
)
_RENEW = text(
    "UPDATE cluster_lease SET expires_at = clock_timestamp() + make_interval(secs => :lease), "
    "renewed_at = clock_timestamp() "
    "WHERE holder = :member AND name = ANY(CAST(:names AS text[])) "
    "AND expires_at > clock_timestamp() RETURNING name, epoch"
)
_RELEASE = text(
    "UPDATE cluster_lease SET holder = NULL, expires_at = clock_timestamp() "
    "WHERE holder = :member AND name = ANY(CAST(:names AS text[]))"
)
# A new lease starts at epoch 1; taking one over (free, or expired) bumps the epoch, which
# fences every write still in flight under the previous holder.
_ACQUIRE = text(
    "INSERT INTO cluster_lease AS l (name, holder, epoch, acquired_at, renewed_at, expires_at) "
    "SELECT n, :member, 1, clock_timestamp(), clock_timestamp(), "
    "clock_timestamp() + make_interval(secs => :lease) FROM unnest(CAST(:names AS text[])) AS n "
    "ON CONFLICT (name) DO UPDATE SET holder = :member, epoch = l.epoch + 1, "
    "acquired_at = clock_timestamp(), renewed_at = clock_timestamp(), "
    "expires_at = clock_timestamp() + make_interval(secs => :lease) "
    "WHERE l.holder IS NULL OR l.expires_at <= clock_timestamp() "
    "RETURNING name, epoch"
)


async def heartbeat(conn: AsyncConnection, member: str, listen: str) -> None:
    """Say that `member` is alive now."""
    await conn.execute(_HEARTBEAT, {"member": member, "listen": listen})


async def live_members(conn: AsyncConnection, lease: timedelta) -> set[str]:
    """Members that heartbeat within the last `lease`."""
    rows = await conn.execute(_LIVE, {"lease": lease.total_seconds()})
    return {str(member) for (member,) in rows}


async def renew(
    conn: AsyncConnection, member: str, names: Collection[str], lease: timedelta
) -> dict[str, int]:
    """Extend the unexpired leases `names` of `member`; the ones still held, with their epochs."""
    if not names:
        return {}
    rows = await conn.execute(
        _RENEW, {"member": member, "names": sorted(names), "lease": lease.total_seconds()}
    )
    return {str(name): int(epoch) for name, epoch in rows}


async def release(conn: AsyncConnection, member: str, names: Collection[str]) -> None:
    """Hand back leases of `member`: free for another member at once."""
    if names:
        await conn.execute(_RELEASE, {"member": member, "names": sorted(names)})


async def acquire(
    conn: AsyncConnection, member: str, names: Collection[str], lease: timedelta
) -> dict[str, int]:
    """Take the leases among `names` that are new, free or expired; those taken, with epochs."""
    if not names:
        return {}
    rows = await conn.execute(
        _ACQUIRE, {"member": member, "names": sorted(names), "lease": lease.total_seconds()}
    )
    return {str(name): int(epoch) for name, epoch in rows}


async def leave(conn: AsyncConnection, member: str) -> None:
    """A clean stop: free every lease of `member` and drop it from the members."""
    await conn.execute(
        text(
            "UPDATE cluster_lease SET holder = NULL, expires_at = clock_timestamp() "
            "WHERE holder = :member"
        ),
        {"member": member},
    )
    await conn.execute(
        text("DELETE FROM cluster_member WHERE member = :member"), {"member": member}
    )


@dataclass(frozen=True)
class MemberRow:
    """A member as stored, with the database's clock at reading."""

    member: str
    listen: str
    started_at: datetime
    heartbeat_at: datetime
    now: datetime


@dataclass(frozen=True)
class LeaseRow:
    """A lease as stored, with the database's clock at reading."""

    name: str
    holder: str | None
    epoch: int
    acquired_at: datetime
    renewed_at: datetime
    expires_at: datetime
    now: datetime


async def read_members(conn: AsyncConnection) -> list[MemberRow]:
    """Every member row, by name."""
    rows = await conn.execute(
        text(
            "SELECT member, listen, started_at, heartbeat_at, clock_timestamp() "
            "FROM cluster_member ORDER BY member"
        )
    )
    return [MemberRow(*row) for row in rows]


async def read_leases(conn: AsyncConnection) -> list[LeaseRow]:
    """Every lease row, by name."""
    rows = await conn.execute(
        text(
            "SELECT name, holder, epoch, acquired_at, renewed_at, expires_at, clock_timestamp() "
            "FROM cluster_lease ORDER BY name"
        )
    )
    return [LeaseRow(*row) for row in rows]
