"""The /metrics body in pieces: its chunks and its gzip (cached segments) are the rendered text."""

from __future__ import annotations

import gzip
from dataclasses import replace

import pytest

from quota_watch.prometheus.body import Piece
from quota_watch.prometheus.exposition import LiveExposition, Snapshot, render, render_body
from quota_watch.prometheus.live import BLOCK_ACCOUNTS
from tests.support.exposition_facts import Facts, status


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
