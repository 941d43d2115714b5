"""Readers and parsers of the /proc and /sys files the host collector uses, with typed errors."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from quota_watch.sdk import AuthError, UnexpectedResponse

__all__ = [
    "BlockDevice",
    "Mount",
    "block_devices",
    "boot_id",
    "boot_time",
    "mounts_file",
    "parse_mounts",
    "parse_net_dev",
    "read_bytes",
    "read_mounts",
    "read_net_dev",
]

# The kernel writes space, tab, newline and backslash in mount fields as \ooo (proc(5)).
_OCTAL_ESCAPE = re.compile(rb"\\([0-3][0-7]{2})")


def read_bytes(path: Path) -> bytes:
    """Read a small kernel file; a missing file is UnexpectedResponse, a denied one AuthError."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise UnexpectedResponse(
            f"{path} does not exist (not Linux, or wrong proc/sys path?)"
        ) from None
    except PermissionError:
        raise AuthError(f"permission denied reading {path}") from None
    except OSError as exc:
        raise UnexpectedResponse(f"cannot read {path}: {exc.strerror or exc}") from None


def _read_text(path: Path) -> str:
    return read_bytes(path).decode("utf-8", errors="replace")


# --- mounts -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mount:
    """One line of /proc/self/mounts, escapes decoded."""

    source: str
    point: str
    fstype: str
    options: frozenset[str]

    @property
    def read_only(self) -> bool:
        """Whether the mount is read-only (option "ro")."""
        return "ro" in self.options


def _unescape(field: bytes) -> str:
    return os.fsdecode(_OCTAL_ESCAPE.sub(lambda m: bytes([int(m.group(1), 8)]), field))


def parse_mounts(content: bytes, where: Path) -> list[Mount]:
    """Parse the fstab-like format of /proc/self/mounts (source point fstype options ...)."""
    mounts: list[Mount] = []
    for number, line in enumerate(content.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 4:
            raise UnexpectedResponse(f"{where} line {number}: expected at least 4 fields")
        source, point, fstype, options = (_unescape(f) for f in fields[:4])
        mounts.append(Mount(source, point, fstype, frozenset(options.split(","))))
    return mounts


def mounts_file(proc_path: Path) -> Path:
    """`<proc>/self/mounts`, or `<proc>/mounts` on systems without the former."""
    own = proc_path / "self" / "mounts"
    return own if own.exists() else proc_path / "mounts"


def read_mounts(proc_path: Path) -> list[Mount]:
    """The mount table as this process sees it."""
    path = mounts_file(proc_path)
    return parse_mounts(read_bytes(path), path)


# --- network ----------------------------------------------------------------------------------


def parse_net_dev(text: str, where: Path) -> dict[str, int]:
    """Transmitted bytes per interface from /proc/net/dev (9th number after "iface:")."""
    lines = text.splitlines()
    if len(lines) < 2 or "|" not in lines[0] or "|" not in lines[1]:
        raise UnexpectedResponse(f"{where}: missing the two header lines of /proc/net/dev")
    counters: dict[str, int] = {}
    for number, line in enumerate(lines[2:], start=3):
        if not line.strip():
            continue
        name, colon, rest = line.partition(":")
        fields = rest.split()
        if not colon or not name.strip() or len(fields) < 16:
            raise UnexpectedResponse(f"{where} line {number}: expected 'iface: <16 counters>'")
        try:
            counters[name.strip()] = int(fields[8])
        except ValueError:
            raise UnexpectedResponse(
                f"{where} line {number}: transmit bytes {fields[8]!r} is not an integer"
            ) from None
    return counters


def read_net_dev(proc_path: Path) -> dict[str, int]:
    """Transmitted bytes of every interface in this network namespace."""
    path = proc_path / "net" / "dev"
    return parse_net_dev(_read_text(path), path)


def boot_time(proc_path: Path) -> datetime:
    """When the system booted: the `btime` line of /proc/stat."""
    path = proc_path / "stat"
    for line in _read_text(path).splitlines():
        key, _, value = line.partition(" ")
        if key == "btime":
            try:
                return datetime.fromtimestamp(int(value.strip()), tz=UTC)
            except (ValueError, OverflowError, OSError):
                break
    raise UnexpectedResponse(f"{path}: no valid 'btime' line")


def boot_id(proc_path: Path) -> str | None:
    """The kernel's random per-boot id, or None on kernels or sandboxes without it."""
    path = proc_path / "sys" / "kernel" / "random" / "boot_id"
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    return text or None


# --- block devices ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlockDevice:
    """A whole disk in /sys/block."""

    name: str
    size_bytes: int
    wwid: str | None


def _optional_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip() or None
    except OSError:
        return None


def block_devices(sys_path: Path) -> list[BlockDevice]:
    """Whole physical, non-removable disks, each counted once even when seen on several paths.

    A disk qualifies when `/sys/block/<dev>/device` exists (loop, ram, zram, dm-* and md* have
    none), `removable` is 0 (CD-ROMs, card readers) and it is not a hidden multipath member.
    Disks reporting the same WWID are one volume reached over several paths (iSCSI multipath).
    """
    root = sys_path / "block"
    if not root.is_dir():
        raise UnexpectedResponse(f"{root} does not exist (not Linux, or wrong sys_path?)")
    try:
        entries = sorted(root.iterdir())
    except PermissionError:
        raise AuthError(f"permission denied listing {root}") from None
    found: list[BlockDevice] = []
    seen_wwids: set[str] = set()
    for entry in entries:
        if not (entry / "device").exists():
            continue
        if _read_text(entry / "removable").strip() != "0":
            continue
        if _optional_text(entry / "hidden") == "1":
            continue
        size_text = _read_text(entry / "size").strip()
        try:
            sectors = int(size_text)
        except ValueError:
            raise UnexpectedResponse(
                f"{entry / 'size'}: {size_text!r} is not a number of sectors"
            ) from None
        wwid = _optional_text(entry / "device" / "wwid") or _optional_text(entry / "wwid")
        if wwid is not None:
            if wwid in seen_wwids:
                continue
            seen_wwids.add(wwid)
        # /sys/block/<dev>/size is in 512-byte sectors whatever the device's block size.
        found.append(BlockDevice(entry.name, sectors * 512, wwid))
    return found
