"""Shared helpers of the host collector's tests: a fake /proc and /sys tree, contexts, readings."""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from quota_watch_collectors.host.collector import HostCollector
from quota_watch_collectors.host.options import HostOptions

from quota_watch.sdk import CollectContext, Period, Reading
from quota_watch.testing import catalogue_limits

NOV_1 = datetime(2026, 11, 1, tzinfo=UTC)
DEC_1 = datetime(2026, 12, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
BOOT_ID = "0f3c9a7e-2b1d-4c55-9f0e-6a1b2c3d4e5f"

# /proc/net/dev as the Linux docs show it (proc(5)).
NET_DEV_DOC = """\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 1048576    9000    0    0    0     0          0         0  1048576    9000    0    0    0     0       0          0
  ens3: 73741824  612345    0    0    0     0          0         0 2147483648  901234    0    0    0     0       0          0
"""  # noqa: E501


def net_dev(tx: dict[str, int]) -> str:
    """A /proc/net/dev with the given transmitted bytes (received bytes are arbitrary)."""
    lines = NET_DEV_DOC.splitlines()[:2]
    for name, value in tx.items():
        lines.append(f"{name:>6}: 5000 10 0 0 0 0 0 0 {value} 20 0 0 0 0 0 0")
    return "\n".join(lines) + "\n"


class Tree:
    """A fake /proc and /sys under a temporary folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.proc = root / "proc"
        self.sys = root / "sys"
        (self.proc / "self").mkdir(parents=True)
        (self.proc / "net").mkdir()
        (self.proc / "sys" / "kernel" / "random").mkdir(parents=True)
        (self.sys / "block").mkdir(parents=True)
        self.set_tx({"lo": 100, "ens3": 1000})
        self.set_boot(datetime(2026, 11, 3, 8, 0, tzinfo=UTC), BOOT_ID)
        self.set_mounts("")
        self.add_disk("vda", sectors=97_656_250)  # 50 GB, Oracle's default boot volume

    def set_asset_tag(self, tag: str) -> None:
        """Write the DMI chassis asset tag (/sys/class/dmi/id/chassis_asset_tag)."""
        dmi = self.sys / "class" / "dmi" / "id"
        dmi.mkdir(parents=True, exist_ok=True)
        (dmi / "chassis_asset_tag").write_text(tag + "\n")

    def set_tx(self, tx: dict[str, int]) -> None:
        """Write /proc/net/dev with these transmitted bytes per interface."""
        (self.proc / "net" / "dev").write_text(net_dev(tx))

    def set_boot(self, booted: datetime, boot_id: str | None) -> None:
        """Write the boot time to /proc/stat and the boot id (None: no boot_id file)."""
        stat = f"cpu  1 2 3 4\nintr 0\nctxt 99\nbtime {int(booted.timestamp())}\nprocesses 7\n"
        (self.proc / "stat").write_text(stat)
        path = self.proc / "sys" / "kernel" / "random" / "boot_id"
        if boot_id is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(boot_id + "\n")

    def set_mounts(self, text: str) -> None:
        """Write /proc/self/mounts."""
        (self.proc / "self" / "mounts").write_text(text)

    def add_disk(
        self,
        name: str,
        *,
        sectors: int,
        device: bool = True,
        removable: bool = False,
        wwid: str | None = None,
    ) -> None:
        """Add a block device to /sys/block."""
        disk = self.sys / "block" / name
        disk.mkdir()
        (disk / "size").write_text(f"{sectors}\n")
        (disk / "removable").write_text("1\n" if removable else "0\n")
        if device:
            (disk / "device").mkdir()
            if wwid is not None:
                (disk / "device" / "wwid").write_text(wwid + "\n")


def make_ctx(now: datetime = NOW, state: MutableMapping[str, Any] | None = None) -> CollectContext:
    """A collect context at `now`: egress by calendar month, disk and block storage unbounded."""
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    periods = {
        "network_egress": Period(start, end),
        "disk_used": Period(None, None),
        "block_storage": Period(None, None),
    }
    state = {} if state is None else state
    return CollectContext(account="host", now=now, periods=periods, state=state)


def host(tree: Tree, client: httpx.AsyncClient, **options: Any) -> HostCollector:
    """The host collector reading `tree`; `options` add to its paths."""
    opts = HostOptions.model_validate({"proc_path": tree.proc, "sys_path": tree.sys, **options})
    return HostCollector(opts, client, catalogue_limits(HostCollector))


def by_limit(readings: list[Reading], limit: str) -> list[Reading]:
    """The readings of `limit`."""
    return [r for r in readings if r.limit == limit]


def egress(readings: list[Reading]) -> Reading:
    """The one network egress reading."""
    (reading,) = by_limit(readings, "network_egress")
    return reading
