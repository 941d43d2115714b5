"""Leases, fencing tokens and the outbox claim on a real PostgreSQL (several Store objects
stand for several members)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from quota_watch.cluster import leases
from quota_watch.cluster.member import ClusterMember, ClusterParams
from quota_watch.cluster.rendezvous import owner
from quota_watch.config.errors import ConfigError
from quota_watch.config.load import validate_config
from quota_watch.model import OutboxMessage
from quota_watch.store.facade import Store
from quota_watch.store.fence import Fence, LeaseLost, fenced
from quota_watch.store.models import ClaimLost, RunRecord, StoredReading
from tests.support.factories import make_alert
from tests.support.pgdb import create_database, drop_database, fresh_database

T0 = datetime(2026, 11, 22, 10, tzinfo=UTC)
LEASE = timedelta(seconds=30)


@pytest.fixture
async def url() -> AsyncIterator[str]:
    async with fresh_database() as database:
        async with await Store.open(database):  # migrated once
            pass
        yield database


def reading(account: str, value: float) -> StoredReading:
    return StoredReading(
        provider="emulated",
        account=account,
        limit="requests",
        resource=None,
        unit="count",
        measure="cumulative",
        value=value,
        cap=100.0,
        cap_source="api",
        period_start=None,
        period_end=None,
        ts=T0,
    )


def run(account: str) -> RunRecord:
    return RunRecord("emulated", account, T0 - timedelta(seconds=1), T0, "success", None, 1)


async def expire(store: Store, name: str) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(
            text("UPDATE cluster_lease SET expires_at = clock_timestamp() WHERE name = :n"),
            {"n": name},
        )


async def test_a_superseded_epoch_writes_nothing(url: str) -> None:
    lease = leases.account_lease("acct")
    async with await Store.open(url) as a, await Store.open(url) as b:
        async with a.engine.begin() as conn:
            assert await leases.acquire(conn, "a", [lease], LEASE) == {lease: 1}
        async with b.engine.begin() as conn:  # held and unexpired: b cannot take it
            assert await leases.acquire(conn, "b", [lease], LEASE) == {}
        await expire(a, lease)  # a is paused past its lease ...
        async with b.engine.begin() as conn:
            assert await leases.acquire(conn, "b", [lease], LEASE) == {lease: 2}
        with fenced(Fence(lease, "a", 1)):  # ... and comes back believing it holds it
            with pytest.raises(LeaseLost, match="epoch 1"):
                await a.record_poll(run("acct"), [reading("acct", 1.0)])
            with pytest.raises(LeaseLost):
                await a.save_alerts([make_alert(T0, account="acct")], [])
        assert await a.latest() == []
        assert await a.load_alerts() == []
        assert await a.account_statuses() == []
        with fenced(Fence(lease, "b", 2)):
            await b.record_poll(run("acct"), [reading("acct", 2.0)])
            await b.save_alerts([make_alert(T0, account="acct")], [])
        assert [r.value for r in await a.latest()] == [2.0]
        assert len(await a.load_alerts()) == 1


async def test_a_takeover_waits_for_the_write_under_way(url: str) -> None:
    """The fenced write holds the lease row: a takeover lands before or after it, never under."""
    lease = leases.account_lease("acct")
    async with await Store.open(url) as a, await Store.open(url) as b:
        async with a.engine.begin() as conn:
            await leases.acquire(conn, "a", [lease], timedelta(seconds=2))
        with fenced(Fence(lease, "a", 1)):
            async with a._write() as conn:  # the store's own write transaction, held open
                await asyncio.sleep(2.5)  # the lease lapses while the row is locked
                takeover = asyncio.create_task(_acquire(b, lease))
                await asyncio.sleep(0.5)
                assert not takeover.done()  # waits on the row lock
                await conn.execute(text("SELECT 1"))
        assert await takeover == {lease: 2}


async def _acquire(store: Store, lease: str) -> dict[str, int]:
    async with store.engine.begin() as conn:
        return await leases.acquire(conn, "b", [lease], LEASE)


def message(i: int) -> OutboxMessage:
    return OutboxMessage(
        id=None,
        notifier="hook",
        fingerprint=f"fp-{i}",
        kind="firing",
        severity="critical",
        title=f"message {i}",
        body_text="",
        body_markdown="",
        created_at=T0,
        next_attempt_at=T0,
        attempts=0,
        sent_at=None,
        last_error=None,
    )


async def test_members_claim_disjoint_messages(url: str) -> None:
    stores = [await Store.open(url) for _ in range(3)]
    try:
        for store in stores:
            store.outbox_claim = timedelta(minutes=1)
        await stores[0].save_alerts([], [message(i) for i in range(60)])
        now = T0 + timedelta(seconds=1)
        claims = await asyncio.gather(*(s.due_messages(now, limit=25) for s in stores))
        ids = [m.id for claim in claims for m in claim]
        assert len(ids) == len(set(ids)) == 60  # each message to exactly one member
        assert await stores[0].due_messages(now) == []  # all claimed
        # a member dying mid-send: the claim lapses and another member gets the message
        later = now + timedelta(minutes=2)
        again = await stores[1].due_messages(later, limit=100)
        assert sorted(m.id or 0 for m in again) == sorted(i or 0 for i in ids)
        # the first claimant wakes up late: it may not send what another member holds now
        first = [m.id for m in claims[0] if m.id is not None]
        with pytest.raises(ClaimLost):
            await stores[0].mark_in_flight(first[:1], later, later)
        await stores[1].mark_in_flight(first[:1], later, later)  # the holder may
    finally:
        for store in stores:
            await store.close()


def test_rendezvous_moves_only_the_newcomers_share() -> None:
    names = [f"account:{i}" for i in range(3000)]
    before = {n: owner(n, ["m1", "m2", "m3"]) for n in names}
    after = {n: owner(n, ["m1", "m2", "m3", "m4"]) for n in names}
    moved = [n for n in names if before[n] != after[n]]
    assert all(after[n] == "m4" for n in moved)
    assert 500 < len(moved) < 1000  # about a quarter
    shares = {m: sum(v == m for v in after.values()) for m in ("m1", "m2", "m3", "m4")}
    assert min(shares.values()) > 600


async def test_members_share_accounts_and_a_newcomer_takes_its_share(url: str) -> None:
    accounts = [f"acct-{i:02d}" for i in range(30)]
    stores = [await Store.open(url) for _ in range(3)]
    changes = [0, 0, 0]

    def member(i: int) -> ClusterMember:
        def changed() -> None:
            changes[i] += 1

        params = ClusterParams(f"m{i}", LEASE, LEASE / 3)
        return ClusterMember(stores[i], params, "127.0.0.1:0", lambda: accounts, changed)

    try:
        m0, m1, m2 = member(0), member(1), member(2)
        await m0.tick()
        assert m0.owned_accounts() == set(accounts) and m0.is_singleton
        await m1.tick()  # m1 sees m0 and m0 holds everything: nothing yet for m1
        await m0.tick()  # m0 sees m1: hands back m1's share
        await m1.tick()  # m1 takes it
        owned = [m0.owned_accounts(), m1.owned_accounts()]
        assert owned[0] | owned[1] == set(accounts) and not owned[0] & owned[1]
        assert owned[1] and owned[0]
        await m2.tick()
        for m in (m0, m1, m2):
            await m.tick()
        await m2.tick()
        shares = [m.owned_accounts() for m in (m0, m1, m2)]
        assert set().union(*shares) == set(accounts)
        assert sum(len(s) for s in shares) == len(accounts)
        assert all(shares)
        assert sum(m.is_singleton for m in (m0, m1, m2)) == 1
        assert m1.owned_accounts() <= owned[1]  # only the newcomer's share moved
        # a clean stop hands everything over at the next tick
        await m2.leave()
        await m0.tick()
        await m1.tick()
        assert m0.owned_accounts() | m1.owned_accounts() == set(accounts)
        epochs = {**m0.account_epochs(), **m1.account_epochs()}
        assert max(epochs.values()) >= 2  # a moved account's epoch grew
    finally:
        for store in stores:
            await store.close()


def test_cluster_on_sqlite_is_refused(tmp_path: Path) -> None:
    data = {
        "store": {"url": f"sqlite:///{tmp_path / 'qw.db'}"},
        "cluster": {"enabled": True},
    }
    with pytest.raises(ConfigError) as caught:
        validate_config(data, None, env={})
    assert "cluster.enabled: several daemons need a PostgreSQL store" in str(caught.value)
    config = validate_config(
        {"store": {"url": "postgresql://u@h/db"}, "cluster": {"enabled": True}}, None, env={}
    )
    assert config.settings.cluster.enabled


def test_cluster_status_lists_members_accounts_and_lease_ages(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from quota_watch.cli.app import app

    url = create_database()
    try:

        async def two_members() -> None:
            async with await Store.open(url) as store:
                for name in ("m0", "m1"):
                    params = ClusterParams(name, LEASE, LEASE / 3)
                    member = ClusterMember(
                        store, params, "127.0.0.1:0", lambda: ["a1", "a2", "a3"], lambda: None
                    )
                    await member.tick()

        asyncio.run(two_members())
        config = tmp_path / "quota-watch.toml"
        config.write_text(f'[store]\nurl = "{url}"\n\n[cluster]\nenabled = true\n')
        result = CliRunner().invoke(app, ["cluster", "status", "--json", "-c", str(config)])
        assert result.exit_code == 0, result.output
        status = json.loads(result.output)
        members = {m["member"]: m for m in status["members"]}
        assert set(members) == {"m0", "m1"} and all(m["live"] for m in members.values())
        # m0 took everything first; m1 waits for m0 to hand its share back
        assert set(members["m0"]["accounts"]) == {"a1", "a2", "a3"}
        assert members["m0"]["singleton"]
        lease = members["m0"]["accounts"]["a1"]
        assert lease["epoch"] == 1 and 0 < lease["expires_in_seconds"] <= LEASE.total_seconds()
        text_out = CliRunner().invoke(app, ["cluster", "status", "-c", str(config)]).output
        assert "2 live member(s) of 2" in text_out and "a1  epoch 1" in text_out
        config.write_text(f'[store]\nurl = "{url}"\n')
        off = CliRunner().invoke(app, ["cluster", "status", "-c", str(config)])
        assert off.exit_code == 2 and "cluster.enabled is false" in off.output
    finally:
        drop_database(url)
