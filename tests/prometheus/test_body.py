"""The /metrics body in pieces: its chunks and its gzip (cached segments) are the rendered text."""

from __future__ import annotations

import gzip
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from quota_watch.model import AccountStatus
from quota_watch.prometheus.body import Piece
from quota_watch.prometheus.exposition import (
    AccountFacts,
    ForecastFacts,
    LiveExposition,
    Snapshot,
    render,
    render_body,
)
from quota_watch.prometheus.live import BLOCK_ACCOUNTS
from quota_watch.store.models import StoredReading

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
LIMITS = (("requests", "count"), ("storage", "bytes"), ("cpu_time", "seconds"))


def reading(account: str, limit: str, unit: str, value: float) -> StoredReading:
    return StoredReading(
        provider="http_json",
        account=account,
        limit=limit,
        resource=None,
        unit=unit,
        measure="level",
        value=value,
        cap=value * 4,
        cap_source="catalogue",
        period_start=NOW - timedelta(days=3),
        period_end=NOW + timedelta(days=27),
        ts=NOW,
    )


def status(account: str, runs: int) -> AccountStatus:
    return AccountStatus("http_json", account, NOW, NOW, "success", None, 0.2, runs, 1, 0)


class Facts:
    """Accounts enough for several blocks, fed to a LiveExposition as polls would."""

    def __init__(self, accounts: int) -> None:
        self.accounts = [
            AccountFacts("http_json", f"acct-{i:04d}", None, 60.0) for i in range(accounts)
        ]
        self.readings = {
            a.account: [reading(a.account, lim, unit, 1.5 * (i + 1)) for lim, unit in LIMITS]
            for i, a in enumerate(self.accounts)
        }
        self.forecasts: dict[tuple[str, str, str | None], ForecastFacts] = {
            (a.account, "requests", None): ForecastFacts(0.5, None, 60.0) for a in self.accounts
        }
        self.statuses = {a.account: status(a.account, 10) for a in self.accounts}
        self.live = LiveExposition()
        self.live.set_accounts(self.accounts)
        for account in self.readings:
            self.poll(account)

    def poll(self, account: str) -> None:
        self.live.set_series(account, self.readings[account], self.forecasts)
        self.live.set_status(self.statuses[account])

    def snapshot(self, live: bool) -> Snapshot:
        every = [r for account in sorted(self.readings) for r in self.readings[account]]
        return Snapshot(
            readings=() if live else every,
            statuses=() if live else list(self.statuses.values()),
            accounts=() if live else self.accounts,
            forecasts={} if live else self.forecasts,
            outbox_depth={"ops": 1},
            process={"process_resident_memory_bytes": 5e7},
            live=self.live if live else None,
        )


def pieces(snapshot: Snapshot) -> dict[int, Piece]:
    """The body's pieces by identity (held, so no id is reused meanwhile)."""
    return {id(i): i for i in render_body(snapshot, True).items if isinstance(i, Piece)}


@pytest.mark.parametrize("openmetrics", [False, True])
def test_chunks_and_gzip_are_the_rendered_text(openmetrics: bool) -> None:
    facts = Facts(3 * BLOCK_ACCOUNTS + 5)
    text = render(facts.snapshot(live=False), openmetrics)
    body = render_body(facts.snapshot(live=True), openmetrics)
    chunks = list(body.chunks(chunk_bytes=4096))
    assert b"".join(chunks) == text == body.join()
    assert body.size == len(text)
    assert len(chunks) > 3 and all(len(c) >= 4096 for c in chunks[:-1])
    # gzip.decompress checks the member's CRC-32 and length too.
    assert gzip.decompress(body.gzip(1)) == text


def test_gzip_after_a_poll_reuses_the_other_blocks_segments() -> None:
    facts = Facts(3 * BLOCK_ACCOUNTS)
    before = pieces(facts.snapshot(live=True))
    first = render_body(facts.snapshot(live=True), True).gzip(1)
    assert gzip.decompress(first) == render(facts.snapshot(live=False), True)

    account = facts.accounts[BLOCK_ACCOUNTS + 1].account  # in the second block
    facts.readings[account] = [replace(r, value=r.value + 1000.25) for r in facts.readings[account]]
    facts.statuses[account] = status(account, 11)
    facts.poll(account)

    after = pieces(facts.snapshot(live=True))
    assert before.keys() & after.keys()  # the first and third blocks' pieces are kept
    assert before.keys() - after.keys() and after.keys() - before.keys()  # the second's are new
    text = render(facts.snapshot(live=False), True)
    assert b"1051.25" in text
    assert gzip.decompress(render_body(facts.snapshot(live=True), True).gzip(1)) == text


def test_an_empty_exposition_gzips() -> None:
    live = LiveExposition()
    snapshot = Snapshot((), (), (), live=live)
    assert gzip.decompress(render_body(snapshot).gzip(1)) == render(snapshot)
