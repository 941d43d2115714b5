"""This daemon as a cluster member: heartbeat, take and hand back leases, fence its writes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from quota_watch.cluster import leases, rendezvous
from quota_watch.config.settings import Config
from quota_watch.store.fence import Fence, fenced
from quota_watch.store.models import StoreError

if TYPE_CHECKING:
    from quota_watch.store.facade import Store

__all__ = ["ClusterMember", "ClusterParams", "cluster_params", "default_member_id"]

log = logging.getLogger("quota_watch.cluster")


def default_member_id() -> str:
    """hostname-pid: unique on a host, readable in `quota-watch cluster status`."""
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class ClusterParams:
    """[cluster] with its defaults resolved against the configured poll intervals."""

    member: str
    lease: timedelta
    heartbeat: timedelta


def cluster_params(config: Config) -> ClusterParams:
    """The member id, lease and heartbeat interval this config asks for."""
    settings = config.settings.cluster
    intervals = [a.interval for a in config.accounts if a.enabled]
    shortest = min(intervals, default=config.settings.polling.interval)
    # lease + heartbeat is the worst-case takeover: 1.5 + 0.5 = 2 poll intervals.
    lease = settings.lease or shortest * 3 / 2
    beat = settings.heartbeat_interval or lease / 3
    return ClusterParams(settings.member_id or default_member_id(), lease, beat)


class ClusterMember:
    """Holds this member's leases (name -> epoch) and keeps them in line with the live members."""

    def __init__(
        self,
        store: Store,
        params: ClusterParams,
        listen: str,
        names: Callable[[], Collection[str]],
        on_change: Callable[[], None],
    ) -> None:
        self.store = store
        self.params = params
        self.listen = listen
        self._names = names  # the configured accounts, read at every tick
        self._on_change = on_change
        self.held: dict[str, int] = {}
        self.members: set[str] = {params.member}

    @property
    def member(self) -> str:
        """This member's id."""
        return self.params.member

    def account_epochs(self) -> dict[str, int]:
        """The accounts whose leases this member holds, with their epochs."""
        prefix = leases.ACCOUNT_PREFIX
        return {n[len(prefix) :]: e for n, e in self.held.items() if n.startswith(prefix)}

    def owned_accounts(self) -> set[str]:
        """The accounts whose leases this member holds."""
        return set(self.account_epochs())

    @property
    def is_singleton(self) -> bool:
        """Whether this member runs the cluster-wide jobs now."""
        return leases.SINGLETON in self.held

    def _fence(self, name: str) -> Fence:
        idle = max(1000, int(self.params.lease.total_seconds() * 500))
        # Epoch 0 is never stored: a lease not held fences every write.
        return Fence(name, self.member, self.held.get(name, 0), idle)

    def account_fence(self, account: str) -> AbstractContextManager[object]:
        """Writes in this context commit only while this member holds the account's lease
        with the epoch it holds now."""
        return fenced(self._fence(leases.account_lease(account)))

    def singleton_fence(self) -> AbstractContextManager[object]:
        """Writes in this context commit only while this member holds the singleton lease."""
        return fenced(self._fence(leases.SINGLETON))

    async def tick(self) -> None:
        """Heartbeat; hand back what a live member should hold; renew; take what is ours."""
        p = self.params
        names = {leases.account_lease(a) for a in self._names()} | {leases.SINGLETON}
        before = dict(self.held)
        async with self.store.engine.begin() as conn:
            await leases.heartbeat(conn, p.member, self.listen)
            live = await leases.live_members(conn, p.lease) | {p.member}
        self.members = live
        mine = {n for n in names if rendezvous.owner(n, live) == p.member}
        giving = set(self.held) - mine
        if giving:
            for name in giving:  # stop working on them before anyone else may start
                del self.held[name]
            self._on_change()
            async with self.store.engine.begin() as conn:
                await leases.release(conn, p.member, giving)
            log.info("cluster: handed back %d leases", len(giving), extra={"leases": len(giving)})
        async with self.store.engine.begin() as conn:
            renewed = await leases.renew(conn, p.member, set(self.held), p.lease)
        lost = sorted(set(self.held) - set(renewed))
        if lost:
            log.warning(
                "cluster: %d leases expired before renewal (paused or cut off?): %s",
                len(lost),
                ", ".join(lost[:10]),
            )
        self.held = renewed
        wanted = mine - set(self.held)
        if wanted:
            async with self.store.engine.begin() as conn:
                taken = await leases.acquire(conn, p.member, wanted, p.lease)
            self.held.update(taken)
            if taken:
                log.info("cluster: took %d leases", len(taken), extra={"leases": len(taken)})
        if self.held != before or lost:
            self._on_change()

    async def run(self, stop: asyncio.Event) -> None:
        """Tick every heartbeat interval until `stop`; a database fault drops no lease early:
        the leases lapse on their own if the database stays out of reach."""
        while not stop.is_set():
            try:
                await self.tick()
            except (SQLAlchemyError, OSError, StoreError) as exc:
                log.error("cluster heartbeat failed: %s", str(exc).split("\n")[0])
            except Exception:  # the member loop must not die: its leases would lapse
                log.exception("cluster heartbeat failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.params.heartbeat.total_seconds())

    async def leave(self) -> None:
        """Free every lease and leave the group (a clean stop: the others take over at once)."""
        self.held.clear()
        try:
            async with self.store.engine.begin() as conn:
                await leases.leave(conn, self.member)
        except (SQLAlchemyError, OSError) as exc:
            log.error("leaving the cluster: %s", str(exc).split("\n")[0])
