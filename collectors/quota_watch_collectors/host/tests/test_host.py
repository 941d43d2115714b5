"""Tests of the host collector on fake /proc and /sys trees, plus one check against `df` here."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator, MutableMapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from quota_watch_collectors.host.collector import STATE_KEY, HostCollector
from quota_watch_collectors.host.options import HostOptions
from quota_watch_collectors.host.procfs import parse_mounts, parse_net_dev

from quota_watch.sdk import (
    AuthError,
    CollectContext,
    NoData,
    Period,
    Reading,
    UnexpectedResponse,
)

NOV_1 = datetime(2026, 11, 1, tzinfo=UTC)
DEC_1 = datetime(2026, 12, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
BOOT_ID = "0f3c9a7e-2b1d-4c55-9f0e-6a1b2c3d4e5f"

# providers-1.md §7.3 (format from the Linux docs).
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

    def set_tx(self, tx: dict[str, int]) -> None:
        (self.proc / "net" / "dev").write_text(net_dev(tx))

    def set_boot(self, booted: datetime, boot_id: str | None) -> None:
        stat = f"cpu  1 2 3 4\nintr 0\nctxt 99\nbtime {int(booted.timestamp())}\nprocesses 7\n"
        (self.proc / "stat").write_text(stat)
        path = self.proc / "sys" / "kernel" / "random" / "boot_id"
        if boot_id is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(boot_id + "\n")

    def set_mounts(self, text: str) -> None:
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
        disk = self.sys / "block" / name
        disk.mkdir()
        (disk / "size").write_text(f"{sectors}\n")
        (disk / "removable").write_text("1\n" if removable else "0\n")
        if device:
            (disk / "device").mkdir()
            if wwid is not None:
                (disk / "device" / "wwid").write_text(wwid + "\n")


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


def make_ctx(now: datetime = NOW, state: MutableMapping[str, Any] | None = None) -> CollectContext:
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
    opts = HostOptions.model_validate({"proc_path": tree.proc, "sys_path": tree.sys, **options})
    return HostCollector(opts, client)


def by_limit(readings: list[Reading], limit: str) -> list[Reading]:
    return [r for r in readings if r.limit == limit]


def egress(readings: list[Reading]) -> Reading:
    (reading,) = by_limit(readings, "network_egress")
    return reading


FakeStat = Callable[[str | os.PathLike[str]], os.statvfs_result]


def fake_statvfs(
    sizes: dict[str, tuple[int, int]], real: Callable[..., os.statvfs_result]
) -> FakeStat:
    """statvfs() answering (blocks, free blocks) of 4 KiB for the given paths, else the real one."""

    def statvfs(path: str | os.PathLike[str]) -> os.statvfs_result:
        key = os.fspath(path)
        if key not in sizes:
            return real(path)
        blocks, free = sizes[key]
        return os.statvfs_result((4096, 4096, blocks, free, free - 10, 1000, 900, 900, 0, 255))

    return statvfs


# --- parsing ----------------------------------------------------------------------------------


def test_net_dev_doc_fixture_parses() -> None:
    assert parse_net_dev(NET_DEV_DOC, Path("/proc/net/dev")) == {
        "lo": 1048576,
        "ens3": 2147483648,
    }


def test_net_dev_without_space_after_colon() -> None:
    line = "  eth0:4294967296 1 0 0 0 0 0 0 12345678901 2 0 0 0 0 0 0"
    text = [*NET_DEV_DOC.splitlines()[:2], line]
    assert parse_net_dev("\n".join(text), Path("x")) == {"eth0": 12345678901}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "eth0: 1 2 3\n",
        NET_DEV_DOC + "  eth1: 1 2 3 4\n",
        NET_DEV_DOC + "  eth1: 1 1 0 0 0 0 0 0 lots 1 0 0 0 0 0 0\n",
    ],
)
def test_net_dev_drift_is_unexpected(text: str) -> None:
    with pytest.raises(UnexpectedResponse, match="/proc/net/dev"):
        parse_net_dev(text, Path("/proc/net/dev"))


def test_mounts_decode_octal_escapes() -> None:
    content = rb"/dev/sdb1 /mnt/my\040disk\011tab\134x ext4 rw,relatime 0 0" + b"\n"
    (mount,) = parse_mounts(content, Path("m"))
    assert mount.point == "/mnt/my disk\ttab\\x"
    assert mount.source == "/dev/sdb1"
    assert not mount.read_only


def test_mounts_short_line_is_unexpected() -> None:
    with pytest.raises(UnexpectedResponse, match="line 2"):
        parse_mounts(b"/dev/vda / ext4 rw 0 0\n/dev/vdb /data\n", Path("/proc/self/mounts"))


# --- network_egress ---------------------------------------------------------------------------


async def test_first_poll_booted_this_month_counts_whole_counters(
    tree: Tree, client: httpx.AsyncClient
) -> None:
    tree.set_mounts("")
    tree.set_tx({"lo": 999_999, "ens3": 2_147_483_648, "eth1": 5})
    ctx = make_ctx()
    readings = await host(tree, client).collect(ctx)
    reading = egress(readings)
    assert reading.value == 2_147_483_648 + 5
    assert reading.period_start == NOV_1
    assert reading.resource is None and reading.cap is None
    state = ctx.state[STATE_KEY]
    assert state["counters"] == {"ens3": 2_147_483_648, "eth1": 5}
    assert state["present"] == ["ens3", "eth1", "lo"]
    assert state["counting_since"] == "2026-11-03T08:00:00Z"


async def test_first_poll_booted_last_month_records_baseline_then_counts(
    tree: Tree, client: httpx.AsyncClient
) -> None:
    tree.set_boot(datetime(2026, 10, 20, tzinfo=UTC), BOOT_ID)
    tree.set_tx({"ens3": 7_000_000})
    collector = host(tree, client)
    ctx = make_ctx()
    readings = await collector.collect(ctx)
    assert by_limit(readings, "network_egress") == []
    assert by_limit(readings, "block_storage")  # the other limits are still reported
    assert ctx.state[STATE_KEY]["total"] == 0
    assert ctx.state[STATE_KEY]["counting_since"] == "2026-11-22T10:00:00Z"

    tree.set_tx({"ens3": 7_000_500})
    second = make_ctx(NOW + timedelta(minutes=10), ctx.state)
    assert egress(await collector.collect(second)).value == 500


async def test_baseline_poll_with_nothing_else_raises_nodata_but_keeps_state(
    tree: Tree, client: httpx.AsyncClient
) -> None:
    tree.set_boot(datetime(2026, 10, 20, tzinfo=UTC), BOOT_ID)
    shutil.rmtree(tree.sys / "block" / "vda")
    ctx = make_ctx()
    with pytest.raises(NoData, match="baseline recorded") as caught:
        await host(tree, client).collect(ctx)
    assert "no whole physical disk" in str(caught.value)
    assert ctx.state[STATE_KEY]["counters"] == {"ens3": 1000}


async def test_egress_accumulates_over_polls(tree: Tree, client: httpx.AsyncClient) -> None:
    collector = host(tree, client)
    state: dict[str, Any] = {}
    seen = []
    for minute, tx in enumerate([1000, 1500, 1500, 4000, 10_000]):
        tree.set_tx({"lo": 5 * minute, "ens3": tx, "docker0": 77 * minute})
        readings = await collector.collect(make_ctx(NOW + timedelta(minutes=minute), state))
        seen.append(egress(readings).value)
    assert seen == [1000, 1500, 1500, 4000, 10_000]
    assert state[STATE_KEY]["total"] == 10_000


async def test_counter_reset_mid_month_counts_new_value_whole(
    tree: Tree, client: httpx.AsyncClient
) -> None:
    collector = host(tree, client)
    state: dict[str, Any] = {}
    tree.set_tx({"ens3": 50_000})
    await collector.collect(make_ctx(NOW, state))
    # Reboot without a readable boot id: only the counter going down shows it.
    tree.set_boot(datetime(2026, 11, 22, 10, 5, tzinfo=UTC), None)
    tree.set_tx({"ens3": 300})
    readings = await collector.collect(make_ctx(NOW + timedelta(minutes=10), state))
    assert egress(readings).value == 50_300
    tree.set_tx({"ens3": 900})
    readings = await collector.collect(make_ctx(NOW + timedelta(minutes=20), state))
    assert egress(readings).value == 50_900


async def test_reboot_seen_by_boot_id_counts_counter_whole_even_above_last(
    tree: Tree, client: httpx.AsyncClient
) -> None:
    collector = host(tree, client)
    state: dict[str, Any] = {}
    tree.set_tx({"ens3": 1_000})
    await collector.collect(make_ctx(NOW, state))
    tree.set_boot(datetime(2026, 11, 22, 10, 1, tzinfo=UTC), "11111111-new-boot")
    tree.set_tx({"ens3": 5_000})  # above the last value, yet a fresh counter
    readings = await collector.collect(make_ctx(NOW + timedelta(hours=1), state))
    assert egress(readings).value == 6_000
    assert state[STATE_KEY]["boot_id"] == "11111111-new-boot"


async def test_month_rollover_starts_from_zero_with_crossing_delta(
    tree: Tree, client: httpx.AsyncClient
) -> None:
    collector = host(tree, client)
    state: dict[str, Any] = {}
    tree.set_tx({"ens3": 9_000_000})
    late_november = datetime(2026, 11, 30, 23, 55, tzinfo=UTC)
    first = await collector.collect(make_ctx(late_november, state))
    assert egress(first).value == 9_000_000
    tree.set_tx({"ens3": 9_000_700})
    december = datetime(2026, 12, 1, 0, 5, tzinfo=UTC)
    second = await collector.collect(make_ctx(december, state))
    reading = egress(second)
    assert reading.value == 700  # the crossing interval belongs to the new month
    assert reading.period_start == DEC_1
    assert state[STATE_KEY]["month_start"] == "2026-12-01T00:00:00Z"
    assert state[STATE_KEY]["counting_since"] == "2026-12-01T00:00:00Z"


async def test_default_excludes_virtual_and_tunnel_interfaces(
    tree: Tree, client: httpx.AsyncClient
) -> None:
    tree.set_tx(
        {
            "lo": 1,
            "ens3": 10,
            "enp0s6": 100,
            "docker0": 1_000,
            "veth1a2b": 2_000,
            "br-0f1e": 3_000,
            "wg0": 4_000,
            "tun0": 5_000,
            "cni0": 6_000,
            "virbr0": 7_000,
            "tailscale0": 8_000,
            "ifb0": 9_000,
        }
    )
    ctx = make_ctx()
    assert egress(await host(tree, client).collect(ctx)).value == 110
    assert set(ctx.state[STATE_KEY]["counters"]) == {"ens3", "enp0s6"}


async def test_interfaces_option_selects_and_excludes(
    tree: Tree, client: httpx.AsyncClient
) -> None:
    tree.set_tx({"ens3": 10, "ens4": 20, "eth0": 40})
    collector = host(tree, client, interfaces=["ens*"], exclude_interfaces=["ens4"])
    assert egress(await collector.collect(make_ctx())).value == 10
    everything = host(tree, client, exclude_interfaces=[])
    assert egress(await everything.collect(make_ctx())).value == 70


async def test_interfaces_option_matching_nothing_is_unexpected(
    tree: Tree, client: httpx.AsyncClient
) -> None:
    with pytest.raises(UnexpectedResponse, match=r"options\.interfaces.*present: ens3, lo"):
        await host(tree, client, interfaces=["eth9"]).collect(make_ctx())


async def test_new_interface_since_last_poll_counts_whole(
    tree: Tree, client: httpx.AsyncClient
) -> None:
    tree.set_boot(datetime(2026, 9, 1, tzinfo=UTC), BOOT_ID)
    collector = host(tree, client)
    state: dict[str, Any] = {}
    tree.set_tx({"ens3": 1_000})
    await collector.collect(make_ctx(NOW, state))  # baseline
    tree.set_tx({"ens3": 1_100, "ens5": 250})  # a secondary VNIC attached meanwhile
    readings = await collector.collect(make_ctx(NOW + timedelta(minutes=10), state))
    assert egress(readings).value == 350


async def test_interface_counted_only_after_option_change_gets_baseline(
    tree: Tree, client: httpx.AsyncClient
) -> None:
    tree.set_boot(datetime(2026, 9, 1, tzinfo=UTC), BOOT_ID)
    state: dict[str, Any] = {}
    tree.set_tx({"ens3": 1_000, "eth1": 40_000})
    await host(tree, client, interfaces=["ens3"]).collect(make_ctx(NOW, state))
    tree.set_tx({"ens3": 1_100, "eth1": 41_000})
    await host(tree, client).collect(make_ctx(NOW + timedelta(minutes=10), state))
    # eth1 existed before counting started and the system booted in September: its counter
    # holds older traffic, so only its growth from now on counts.
    assert state[STATE_KEY]["total"] == 100
    tree.set_tx({"ens3": 1_100, "eth1": 41_500})
    readings = await host(tree, client).collect(make_ctx(NOW + timedelta(minutes=20), state))
    assert egress(readings).value == 600


async def test_unreadable_state_restarts_accounting(
    tree: Tree, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = make_ctx(state={STATE_KEY: {"total": "lots"}})
    readings = await host(tree, client).collect(ctx)
    assert egress(readings).value == 1000  # booted in November: whole counter
    assert "unreadable" in caplog.text


async def test_missing_net_dev_is_unexpected_naming_path(
    tree: Tree, client: httpx.AsyncClient
) -> None:
    (tree.proc / "net" / "dev").unlink()
    with pytest.raises(UnexpectedResponse, match=str(tree.proc / "net" / "dev")):
        await host(tree, client).collect(make_ctx())


async def test_unreadable_net_dev_is_auth_error(
    tree: Tree, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    denied = tree.proc / "net" / "dev"
    real = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self == denied:  # chmod 0 would not stop root, who may run this suite
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    with pytest.raises(AuthError, match=f"permission denied reading {denied}"):
        await host(tree, client).collect(make_ctx())


async def test_missing_stat_when_seeding_is_unexpected(
    tree: Tree, client: httpx.AsyncClient
) -> None:
    (tree.proc / "stat").unlink()
    with pytest.raises(UnexpectedResponse, match="stat"):
        await host(tree, client).collect(make_ctx())


async def test_failed_poll_leaves_state_untouched(tree: Tree, client: httpx.AsyncClient) -> None:
    state: dict[str, Any] = {}
    collector = host(tree, client)
    await collector.collect(make_ctx(NOW, state))
    before = dict(state[STATE_KEY])
    tree.set_tx({"ens3": 5_000})
    shutil.rmtree(tree.sys / "block")
    with pytest.raises(UnexpectedResponse, match="block"):
        await collector.collect(make_ctx(NOW + timedelta(minutes=10), state))
    assert state[STATE_KEY] == before


# --- block_storage ----------------------------------------------------------------------------


async def test_block_storage_sums_whole_physical_disks(
    tree: Tree, client: httpx.AsyncClient
) -> None:
    tree.add_disk("sda", sectors=2_000, wwid="naa.6081")
    tree.add_disk("sdb", sectors=2_000, wwid="naa.6081")  # the same volume on a second path
    tree.add_disk("nvme0n1", sectors=4_000)
    tree.add_disk("sr0", sectors=1_000, removable=True)
    tree.add_disk("loop0", sectors=8_000, device=False)
    tree.add_disk("dm-0", sectors=16_000, device=False)
    tree.add_disk("zram0", sectors=32_000, device=False)
    tree.add_disk("md127", sectors=64_000, device=False)
    (reading,) = by_limit(await host(tree, client).collect(make_ctx()), "block_storage")
    assert reading.value == (97_656_250 + 2_000 + 4_000) * 512
    assert reading.resource is None and reading.cap is None


async def test_block_storage_skips_hidden_multipath_members(
    tree: Tree, client: httpx.AsyncClient
) -> None:
    tree.add_disk("nvme0c0n1", sectors=4_000)
    (tree.sys / "block" / "nvme0c0n1" / "hidden").write_text("1\n")
    (reading,) = by_limit(await host(tree, client).collect(make_ctx()), "block_storage")
    assert reading.value == 97_656_250 * 512


async def test_missing_sys_block_is_unexpected(tree: Tree, client: httpx.AsyncClient) -> None:
    shutil.rmtree(tree.sys / "block")
    with pytest.raises(UnexpectedResponse, match=str(tree.sys / "block")):
        await host(tree, client).collect(make_ctx())


async def test_bad_sector_count_is_unexpected(tree: Tree, client: httpx.AsyncClient) -> None:
    (tree.sys / "block" / "vda" / "size").write_text("big\n")
    with pytest.raises(UnexpectedResponse, match="sectors"):
        await host(tree, client).collect(make_ctx())


# --- disk_used --------------------------------------------------------------------------------


@pytest.fixture
def mount_dirs(tmp_path: Path) -> dict[str, str]:
    names = {
        "root": "root",
        "data": "data",
        "bind": "data/bound/again",
        "spaced": "my disk",
        "ro": "readonly",
        "snap": "snap/core/1",
        "tmp": "tmpfs",
        "docker": "var/lib/docker/overlay2/abc/merged",
        "nfs": "nfs",
    }
    dirs = {}
    for key, rel in names.items():
        path = tmp_path / "mnt" / rel
        path.mkdir(parents=True)
        dirs[key] = str(path)
    hosts = tmp_path / "mnt" / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")
    dirs["file"] = str(hosts)
    return dirs


@pytest.fixture
def statvfs_sizes(monkeypatch: pytest.MonkeyPatch, mount_dirs: dict[str, str]) -> None:
    sizes = {
        mount_dirs["root"]: (1_000, 250),
        mount_dirs["data"]: (2_000, 1_500),
        mount_dirs["bind"]: (2_000, 1_500),
        mount_dirs["spaced"]: (4_000, 4_000),
        mount_dirs["ro"]: (100, 0),
        mount_dirs["snap"]: (10, 0),
        mount_dirs["tmp"]: (50, 50),
        mount_dirs["docker"]: (1_000, 250),
        mount_dirs["nfs"]: (9_000, 10),
        mount_dirs["file"]: (1_000, 250),
    }
    monkeypatch.setattr(os, "statvfs", fake_statvfs(sizes, os.statvfs))


def mounts_text(d: dict[str, str]) -> str:
    spaced = d["spaced"].replace(" ", "\\040")
    return "\n".join(
        [
            "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0",
            "sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0",
            f"overlay {d['root']} overlay rw,relatime,lowerdir=/l,upperdir=/u,workdir=/w 0 0",
            f"/dev/sdb1 {d['data']} ext4 rw,relatime 0 0",
            f"/dev/sdb1 {d['bind']} ext4 rw,relatime 0 0",
            f"/dev/sdc1 {spaced} xfs rw,relatime 0 0",
            f"/dev/sdd1 {d['ro']} ext4 ro,relatime 0 0",
            f"/dev/loop3 {d['snap']} squashfs ro,nodev,relatime 0 0",
            f"tmpfs {d['tmp']} tmpfs rw,nosuid,nodev 0 0",
            f"overlay {d['docker']} overlay rw,relatime 0 0",
            f"srv:/export {d['nfs']} nfs4 rw,relatime,vers=4.2 0 0",
            f"/dev/sdb1 {d['file']} ext4 rw,relatime 0 0",
            "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid 0 0",
        ]
    )


@pytest.mark.usefixtures("statvfs_sizes")
async def test_disk_used_filters_and_deduplicates_mounts(
    tree: Tree, client: httpx.AsyncClient, mount_dirs: dict[str, str]
) -> None:
    tree.set_mounts(mounts_text(mount_dirs))
    readings = by_limit(await host(tree, client).collect(make_ctx()), "disk_used")
    got = {r.resource: (r.value, r.cap) for r in readings}
    # Left out: pseudo, read-only, squashfs, tmpfs and NFS mounts, a file bind mount, and the
    # second mounts of /dev/sdb1 and of "overlay" (the shortest mount point of a source wins).
    assert got == {
        mount_dirs["root"]: (750 * 4096.0, 1_000 * 4096.0),
        mount_dirs["data"]: (500 * 4096.0, 2_000 * 4096.0),
        mount_dirs["spaced"]: (0.0, 4_000 * 4096.0),
    }


@pytest.mark.usefixtures("statvfs_sizes")
async def test_skip_mount_points_globs(
    tree: Tree, client: httpx.AsyncClient, mount_dirs: dict[str, str], tmp_path: Path
) -> None:
    tree.set_mounts(mounts_text(mount_dirs))
    collector = host(tree, client, skip_mount_points=[f"{tmp_path}/mnt/var/lib/docker/*"])
    resources = {r.resource for r in by_limit(await collector.collect(make_ctx()), "disk_used")}
    assert resources == {mount_dirs["root"], mount_dirs["data"], mount_dirs["spaced"]}


@pytest.mark.usefixtures("statvfs_sizes")
async def test_explicit_mounts_are_reported_even_read_only(
    tree: Tree, client: httpx.AsyncClient, mount_dirs: dict[str, str]
) -> None:
    tree.set_mounts(mounts_text(mount_dirs))
    collector = host(tree, client, mounts=[mount_dirs["ro"], mount_dirs["bind"] + "/"])
    readings = by_limit(await collector.collect(make_ctx()), "disk_used")
    assert {r.resource: r.value for r in readings} == {
        mount_dirs["ro"]: 100 * 4096.0,
        mount_dirs["bind"]: 500 * 4096.0,
    }


@pytest.mark.usefixtures("statvfs_sizes")
async def test_explicit_mount_not_mounted_is_unexpected(
    tree: Tree, client: httpx.AsyncClient, mount_dirs: dict[str, str]
) -> None:
    tree.set_mounts(mounts_text(mount_dirs))
    with pytest.raises(UnexpectedResponse, match=r"'/srv/absent' from options\.mounts"):
        await host(tree, client, mounts=["/srv/absent"]).collect(make_ctx())


async def test_later_mount_on_same_point_wins(
    tree: Tree, client: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    point = tmp_path / "stacked"
    point.mkdir()
    tree.set_mounts(f"/dev/sdb1 {point} ext4 rw 0 0\ntmpfs {point} tmpfs rw 0 0\n")
    monkeypatch.setattr(os, "statvfs", fake_statvfs({str(point): (10, 5)}, os.statvfs))
    readings = await host(tree, client).collect(make_ctx())
    assert by_limit(readings, "disk_used") == []  # the tmpfs on top hides the disk


async def test_statvfs_failure_skips_in_auto_mode_and_fails_when_explicit(
    tree: Tree, client: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    point = tmp_path / "gone"
    point.mkdir()
    tree.set_mounts(f"/dev/sdb1 {point} ext4 rw 0 0\n")
    real = os.statvfs

    def failing(path: str | os.PathLike[str]) -> os.statvfs_result:
        if os.fspath(path) == str(point):
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(os, "statvfs", failing)
    readings = await host(tree, client).collect(make_ctx())
    assert by_limit(readings, "disk_used") == []
    with pytest.raises(AuthError, match="statvfs"):
        await host(tree, client, mounts=[str(point)]).collect(make_ctx())


async def test_mounts_fallback_to_proc_mounts(
    tree: Tree, client: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    point = tmp_path / "legacy"
    point.mkdir()
    (tree.proc / "self" / "mounts").unlink()
    (tree.proc / "mounts").write_text(f"/dev/vda1 {point} ext4 rw 0 0\n")
    monkeypatch.setattr(os, "statvfs", fake_statvfs({str(point): (8, 2)}, os.statvfs))
    (reading,) = by_limit(await host(tree, client).collect(make_ctx()), "disk_used")
    assert (reading.resource, reading.value, reading.cap) == (str(point), 6 * 4096.0, 8 * 4096.0)


async def test_missing_mount_table_is_unexpected(tree: Tree, client: httpx.AsyncClient) -> None:
    (tree.proc / "self" / "mounts").unlink()
    with pytest.raises(UnexpectedResponse, match="mounts does not exist"):
        await host(tree, client).collect(make_ctx())


# --- options and probe ------------------------------------------------------------------------


def test_options_reject_unknown_keys_and_relative_mounts() -> None:
    with pytest.raises(ValidationError, match="extra"):
        HostOptions.model_validate({"proc": "/proc"})
    with pytest.raises(ValidationError, match="absolute"):
        HostOptions.model_validate({"mounts": ["data"]})


def test_default_options_keep_overlay_and_skip_pseudo_filesystems() -> None:
    options = HostOptions()
    assert "overlay" not in options.skip_fstypes
    assert {"proc", "sysfs", "tmpfs", "devtmpfs", "squashfs", "nsfs"} <= set(options.skip_fstypes)
    assert "lo" in options.exclude_interfaces


async def test_probe_reads_sources(tree: Tree, client: httpx.AsyncClient) -> None:
    await host(tree, client).probe()
    (tree.proc / "net" / "dev").unlink()
    with pytest.raises(UnexpectedResponse, match="net/dev"):
        await host(tree, client).probe()


# --- this machine -----------------------------------------------------------------------------


def _df_root() -> tuple[int, int]:
    out = subprocess.run(["df", "-P", "-B1", "/"], capture_output=True, text=True, check=True)
    # Filesystem 1B-blocks Used Available Capacity Mounted-on
    fields = out.stdout.splitlines()[-1].split()
    return int(fields[1]), int(fields[2])


@pytest.fixture
def real_root_mounted() -> Iterator[None]:
    if shutil.which("df") is None:
        pytest.skip("df is not installed")
    if not Path("/proc/self/mounts").exists():
        pytest.skip("no /proc on this system")
    yield


@pytest.mark.usefixtures("real_root_mounted")
async def test_root_matches_df_on_this_machine(client: httpx.AsyncClient) -> None:
    collector = HostCollector(HostOptions(mounts=("/",)), client)
    # Other processes write to the disk meanwhile: retry until df agrees before and after.
    for _ in range(20):
        before = _df_root()
        readings = await collector.collect(make_ctx(datetime.now(UTC)))
        after = _df_root()
        if before == after:
            break
    else:
        pytest.fail("the root filesystem kept changing while measuring")
    (root,) = by_limit(readings, "disk_used")
    assert root.resource == "/"
    assert (root.cap, root.value) == (float(before[0]), float(before[1]))
