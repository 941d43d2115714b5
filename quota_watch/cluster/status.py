"""`quota-watch cluster status`: members, the accounts each holds, and lease ages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from quota_watch.cluster import leases
from quota_watch.store.facade import Store
from quota_watch.units import format_duration

__all__ = ["ClusterStatus", "MemberStatus", "read_status", "render_status"]


@dataclass(frozen=True)
class MemberStatus:
    """A member, whether it heartbeats within the lease, and the accounts it holds."""

    member: str
    listen: str
    live: bool
    heartbeat_age: timedelta
    accounts: dict[str, tuple[int, timedelta, timedelta]]  # account -> epoch, held for, expires in
    singleton: bool


@dataclass(frozen=True)
class ClusterStatus:
    """Every member, and the account leases nobody holds now."""

    members: list[MemberStatus]
    unheld: list[str]

    def to_json(self) -> dict[str, Any]:
        """The JSON form (`--json`): ages in seconds."""
        return {
            "members": [
                {
                    "member": m.member,
                    "listen": m.listen,
                    "live": m.live,
                    "heartbeat_age_seconds": round(m.heartbeat_age.total_seconds(), 3),
                    "singleton": m.singleton,
                    "accounts": {
                        a: {
                            "epoch": epoch,
                            "held_seconds": round(held.total_seconds(), 3),
                            "expires_in_seconds": round(left.total_seconds(), 3),
                        }
                        for a, (epoch, held, left) in sorted(m.accounts.items())
                    },
                }
                for m in self.members
            ],
            "unheld_accounts": self.unheld,
        }


async def read_status(url: str, lease: timedelta) -> ClusterStatus:
    """Read members and leases from the store at `url`; live = heartbeat within `lease`."""
    async with await Store.open(url, readonly=True) as store, store.engine.connect() as conn:
        members = await leases.read_members(conn)
        rows = await leases.read_leases(conn)
    held: dict[str, dict[str, tuple[int, timedelta, timedelta]]] = {}
    singleton: str | None = None
    unheld = []
    for row in rows:
        active = row.holder is not None and row.expires_at > row.now
        if row.name == leases.SINGLETON:
            singleton = row.holder if active else None
            continue
        account = row.name.removeprefix(leases.ACCOUNT_PREFIX)
        if not active or row.holder is None:
            unheld.append(account)
            continue
        held.setdefault(row.holder, {})[account] = (
            row.epoch,
            row.now - row.acquired_at,
            row.expires_at - row.now,
        )
    return ClusterStatus(
        [
            MemberStatus(
                m.member,
                m.listen,
                m.now - m.heartbeat_at < lease,
                m.now - m.heartbeat_at,
                held.get(m.member, {}),
                singleton == m.member,
            )
            for m in members
        ],
        sorted(unheld),
    )


def _age(delta: timedelta) -> str:
    if delta < timedelta(seconds=90):
        return f"{max(delta.total_seconds(), 0.0):.1f}s"
    return format_duration(delta)


def render_status(status: ClusterStatus) -> str:
    """Plain text: one block per member, its accounts with epoch and lease age."""
    lines = []
    live = sum(m.live for m in status.members)
    lines.append(f"{live} live member(s) of {len(status.members)}")
    for m in status.members:
        role = ", singleton" if m.singleton else ""
        state = "live" if m.live else "silent"
        lines.append(
            f"{m.member} ({state}{role}, {m.listen}): heartbeat {_age(m.heartbeat_age)} ago, "
            f"{len(m.accounts)} account(s)"
        )
        for account, (epoch, held, left) in sorted(m.accounts.items()):
            lines.append(f"  {account}  epoch {epoch}  held {_age(held)}  expires in {_age(left)}")
    if status.unheld:
        lines.append(f"not held now: {', '.join(status.unheld)}")
    return "\n".join(lines)
