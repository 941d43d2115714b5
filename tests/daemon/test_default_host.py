"""The embedded default (one `host` account) on a machine that is not an Oracle Cloud instance:
a first poll fires no alert, where Oracle's 200 GB block-storage cap used to fire at once."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from quota_watch_collectors.host.tests.support import Tree

from quota_watch.collect.poller import Poller
from quota_watch.collect.registry import discover
from quota_watch.collect.runtime import build_runtime
from quota_watch.config.load import validate_config
from quota_watch.config.settings import EMBEDDED_DEFAULT, Config
from quota_watch.daemon.alerting import Alerting
from quota_watch.store.facade import Store

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
GB = 10**9


def _default_on(tree: Tree, store_url: str) -> Config:
    """The embedded default with the host account reading `tree` instead of /proc and /sys."""
    data = copy.deepcopy(EMBEDDED_DEFAULT)
    (account,) = data["accounts"]
    assert set(account) == {"name", "collector", "interval"}  # the default sets no option
    account["options"] = {"proc_path": str(tree.proc), "sys_path": str(tree.sys)}
    data["store"] = {"url": store_url}
    return validate_config(data, None, {})


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tree:
    """A laptop-like machine: a 500 GB disk (more than Oracle's 200 GB of block storage), its
    ext4 root 60 % full as df shows it (5 % of the blocks reserved for root)."""
    tree = Tree(tmp_path / "machine")
    tree.add_disk("nvme0n1", sectors=500 * GB // 512)
    root = tmp_path / "root"
    root.mkdir()
    tree.set_mounts(f"/dev/nvme0n1p2 {root} ext4 rw,relatime 0 0\n")
    blocks, reserved = 100_000_000, 5_000_000
    used = 57_000_000  # df: Use% = used / (used + avail) = 57 / 95 = 60 %
    real: Callable[..., os.statvfs_result] = os.statvfs

    def statvfs(path: str | os.PathLike[str]) -> os.statvfs_result:
        if os.fspath(path) != str(root):
            return real(path)
        free = blocks - used
        fields = (4096, 4096, blocks, free, free - reserved, 1000, 900, 900, 0, 255)
        return os.statvfs_result(fields)

    monkeypatch.setattr(os, "statvfs", statvfs)
    return tree


async def _first_poll(config: Config, store: Store) -> list[str]:
    """Poll the default account once as the daemon does; the alerts firing afterwards."""
    (account,) = config.accounts
    info = discover({account.collector})[account.collector]
    async with httpx.AsyncClient() as client:
        rt = build_runtime(account, info, client)
        result = await Poller(store, lambda: NOW).poll(rt)
        assert result.outcome == "success", result.error
        alerting = Alerting(store, config, lambda: NOW)
        await alerting.after_poll(rt, result)
        return [f"{a.alertname} {a.limit}" for a in await alerting.firing()]


async def test_no_alert_fires_off_oracle(machine: Tree, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'qw.db'}"
    store = await Store.open(url)
    try:
        assert await _first_poll(_default_on(machine, url), store) == []
        latest = {r.limit: r for r in await store.latest()}
    finally:
        await store.close()
    assert latest["block_storage"].cap is None  # measured, but Oracle's cap is not applied
    disk = latest["disk_used"]
    assert disk.cap is not None and disk.value / disk.cap == pytest.approx(0.60)


async def test_on_oracle_the_same_machine_is_over_the_block_storage_cap(
    machine: Tree, tmp_path: Path
) -> None:
    machine.set_asset_tag("OracleCloud.com")
    url = f"sqlite:///{tmp_path / 'qw.db'}"
    store = await Store.open(url)
    try:
        assert await _first_poll(_default_on(machine, url), store) == [
            "QuotaFullyUsed block_storage"
        ]
    finally:
        await store.close()
