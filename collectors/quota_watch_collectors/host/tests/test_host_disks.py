"""Tests of the host collector's block storage and disk usage on fake /sys and mount tables."""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from quota_watch_collectors.host.tests.support import Tree, by_limit, host, make_ctx

from quota_watch.sdk import AuthError, UnexpectedResponse

FakeStat = Callable[[str | os.PathLike[str]], os.statvfs_result]


def fake_statvfs(
    sizes: dict[str, tuple[int, int]] | dict[str, tuple[int, int, int]],
    real: Callable[..., os.statvfs_result],
) -> FakeStat:
    """statvfs() answering (blocks, free blocks[, blocks available to users]) of 4 KiB for the
    given paths, else the real one; without the third figure 10 blocks are reserved for root."""

    def statvfs(path: str | os.PathLike[str]) -> os.statvfs_result:
        key = os.fspath(path)
        if key not in sizes:
            return real(path)
        blocks, free, *rest = sizes[key]
        avail = rest[0] if rest else max(free - 10, 0)
        return os.statvfs_result((4096, 4096, blocks, free, avail, 1000, 900, 900, 0, 255))

    return statvfs


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
        mount_dirs["root"]: (750 * 4096.0, (750 + 240) * 4096.0),
        mount_dirs["data"]: (500 * 4096.0, (500 + 1_490) * 4096.0),
        mount_dirs["spaced"]: (0.0, 3_990 * 4096.0),
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
    monkeypatch.setattr(os, "statvfs", fake_statvfs({str(point): (8, 2, 2)}, os.statvfs))
    (reading,) = by_limit(await host(tree, client).collect(make_ctx()), "disk_used")
    assert (reading.resource, reading.value, reading.cap) == (str(point), 6 * 4096.0, 8 * 4096.0)


@pytest.mark.parametrize(
    ("blocks", "free", "avail", "use_percent"),
    [
        (1_000, 300, 250, 74),  # 50 blocks reserved for root: df's Use% is 700 / 950
        (1_000, 50, 0, 100),  # only root's reserve left: full for everyone else (ENOSPC)
        (1_000, 1_000, 950, 0),
    ],
)
async def test_disk_used_is_df_use_percent(
    tree: Tree,
    client: httpx.AsyncClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    blocks: int,
    free: int,
    avail: int,
    use_percent: int,
) -> None:
    point = tmp_path / "ext4"
    point.mkdir()
    tree.set_mounts(f"/dev/sda1 {point} ext4 rw 0 0\n")
    sizes = {str(point): (blocks, free, avail)}
    monkeypatch.setattr(os, "statvfs", fake_statvfs(sizes, os.statvfs))
    (reading,) = by_limit(await host(tree, client).collect(make_ctx()), "disk_used")
    assert reading.value == (blocks - free) * 4096.0
    assert reading.cap == (blocks - free + avail) * 4096.0
    assert math.ceil(100 * reading.value / reading.cap) == use_percent  # df rounds up


async def test_missing_mount_table_is_unexpected(tree: Tree, client: httpx.AsyncClient) -> None:
    (tree.proc / "self" / "mounts").unlink()
    with pytest.raises(UnexpectedResponse, match="mounts does not exist"):
        await host(tree, client).collect(make_ctx())
