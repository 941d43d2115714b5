"""run_read: a plain SQLite store is read without an event loop, anything else through one."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import typer

from quota_watch.cli.common import run_read
from quota_watch.store.models import StoreError


def test_a_plain_sqlite_read_runs_without_a_loop(tmp_path: Path) -> None:
    seen: list[bool] = []

    async def read() -> int:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            seen.append(False)
        else:
            seen.append(True)
        return 42

    assert run_read(f"sqlite:///{tmp_path / 'qw.db'}", read) == 42
    assert seen == [False]


def test_a_read_that_waits_on_the_loop_is_a_bug_not_a_hang(tmp_path: Path) -> None:
    async def waits() -> None:
        await asyncio.sleep(0)

    with pytest.raises(RuntimeError, match="waited on the event loop"):
        run_read(f"sqlite:///{tmp_path / 'qw.db'}", waits)


def test_a_store_error_exits_1_as_under_the_loop(tmp_path: Path) -> None:
    async def fails() -> None:
        raise StoreError("boom")

    for url in (f"sqlite:///{tmp_path / 'qw.db'}", f"sqlite:///{tmp_path / 'qw.db'}?mode=ro"):
        with pytest.raises(typer.Exit) as exit_:
            run_read(url, fails)
        assert exit_.value.exit_code == 1


def test_another_url_runs_under_an_event_loop() -> None:
    async def read() -> bool:
        return asyncio.get_running_loop() is not None

    assert run_read("postgresql://user@127.0.0.1/db", read) is True
