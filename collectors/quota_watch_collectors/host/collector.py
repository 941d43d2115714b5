"""The host collector: disk fill per mount, monthly network egress and provisioned block storage."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ValidationError

from quota_watch.sdk import (
    AuthError,
    CollectContext,
    CollectorBase,
    LimitSpec,
    NoData,
    Reading,
    UnexpectedResponse,
)
from quota_watch_collectors.host.egress import EgressUpdate, account_egress
from quota_watch_collectors.host.models import EgressState
from quota_watch_collectors.host.options import HostOptions
from quota_watch_collectors.host.procfs import (
    Mount,
    block_devices,
    boot_id,
    boot_time,
    mounts_file,
    read_mounts,
    read_net_dev,
)

if TYPE_CHECKING:
    import httpx

__all__ = ["STATE_KEY", "HostCollector"]

log = logging.getLogger(__name__)

STATE_KEY = "network_egress"

ORACLE_ASSET_TAG = "OracleCloud.com"
"""The DMI chassis asset tag of every Oracle Cloud (OCI) VM and bare-metal instance (cloud-init's
Oracle datasource documentation)."""
ORACLE_CAPPED = frozenset({"network_egress", "block_storage"})
"""The limits whose catalogue caps are Oracle Always Free's, applied only on an Oracle instance."""


def is_oracle_instance(sys_path: Path) -> bool:
    """Whether the DMI chassis asset tag under `sys_path` is Oracle Cloud's (False when the file
    is missing or unreadable: not a DMI machine, or not Linux)."""
    try:
        tag = (sys_path / "class" / "dmi" / "id" / "chassis_asset_tag").read_text()
    except (OSError, UnicodeDecodeError):
        return False
    return tag.strip() == ORACLE_ASSET_TAG


class HostCollector(CollectorBase):
    """Reads this machine's /proc and /sys: no credentials, no network."""

    name: ClassVar[str] = "host"
    Options: ClassVar[type[BaseModel]] = HostOptions
    uses_network: ClassVar[bool] = False

    options: HostOptions

    def __init__(
        self,
        options: HostOptions,
        client: httpx.AsyncClient,
        limits: Mapping[str, LimitSpec] | None = None,
    ) -> None:
        super().__init__(options, client, limits)
        wanted = options.oracle
        self.oracle = is_oracle_instance(options.sys_path) if wanted == "auto" else wanted

    def declared_limits(self) -> dict[str, LimitSpec] | None:
        """On an Oracle Cloud instance the catalogue (with Oracle's caps); elsewhere the same
        limits without them (an `[accounts.limits]` cap still applies)."""
        if self.oracle:
            return None
        return {
            name: spec.model_copy(update={"cap": None}) if name in ORACLE_CAPPED else spec
            for name, spec in self.catalogue.items()
        }

    async def probe(self) -> None:
        """Check that every source file can be read and parsed."""
        import asyncio  # here: commands that only build the collector run without a loop

        await asyncio.to_thread(self._probe)

    def _probe(self) -> None:
        read_mounts(self.options.proc_path)
        read_net_dev(self.options.proc_path)
        block_devices(self.options.sys_path)

    async def collect(self, ctx: CollectContext) -> list[Reading]:
        """Read disks, egress counters and block devices; advance the egress state."""
        import asyncio

        month_start = _month_start(ctx)
        previous = _load_state(ctx.state.get(STATE_KEY))
        readings, update, missing = await asyncio.to_thread(
            self._gather, ctx.now, month_start, previous
        )
        # Written last, so a failed poll leaves the state as it was and no delta is lost.
        ctx.state[STATE_KEY] = update.state.model_dump(mode="json")
        if not readings:
            raise NoData("; ".join(missing))
        return readings

    def _gather(
        self, now: datetime, month_start: datetime, previous: EgressState | None
    ) -> tuple[list[Reading], EgressUpdate, list[str]]:
        missing: list[str] = []
        readings = self._disk_readings()
        if not readings:
            missing.append("disk_used: no eligible mount point")
        update = self._egress(now, month_start, previous)
        if update.reportable:
            readings.append(
                Reading("network_egress", float(update.state.total), period_start=month_start)
            )
        else:
            missing.append("network_egress: baseline recorded; the monthly total starts now")
            log.info(
                "network_egress: first poll and the system booted before %s, so the interface "
                "counters also hold last month's traffic; baseline recorded, counting from now",
                month_start.date().isoformat(),
            )
        block = self._block_storage()
        if block is None:
            missing.append("block_storage: no whole physical disk in /sys/block")
        else:
            readings.append(block)
        return readings, update, missing

    # --- disk_used ----------------------------------------------------------------------------

    def _disk_readings(self) -> list[Reading]:
        options = self.options
        by_point: dict[str, Mount] = {}
        for mount in read_mounts(options.proc_path):
            by_point[mount.point] = mount  # a later mount on the same point hides the earlier
        if options.mounts:
            chosen: list[Mount] = []
            for point in options.mounts:
                if point not in by_point:
                    raise UnexpectedResponse(
                        f"mount point {point!r} from options.mounts is not mounted "
                        f"(not in {mounts_file(options.proc_path)})"
                    )
                chosen.append(by_point[point])
            return [r for m in chosen if (r := self._disk_reading(m, strict=True)) is not None]
        # Bind mounts and btrfs subvolumes repeat a device: report it once, under its shortest
        # mount point (as df does).
        best: dict[str, Mount] = {}
        for mount in by_point.values():
            if not self._eligible(mount):
                continue
            kept = best.get(mount.source)
            if kept is None or (len(mount.point), mount.point) < (len(kept.point), kept.point):
                best[mount.source] = mount
        chosen = sorted(best.values(), key=lambda m: m.point)
        return [r for m in chosen if (r := self._disk_reading(m, strict=False)) is not None]

    def _eligible(self, mount: Mount) -> bool:
        options = self.options
        if mount.read_only:
            return False
        if any(fnmatchcase(mount.fstype, glob) for glob in options.skip_fstypes):
            return False
        if any(fnmatchcase(mount.point, glob) for glob in options.skip_mount_points):
            return False
        # File bind mounts (/etc/hosts in a container) are not places anyone fills up.
        return Path(mount.point).is_dir()

    @staticmethod
    def _disk_reading(mount: Mount, *, strict: bool) -> Reading | None:
        try:
            stat = os.statvfs(mount.point)
        except OSError as exc:
            if not strict:
                log.debug("disk_used: skipping %s: statvfs failed: %s", mount.point, exc.strerror)
                return None
            if isinstance(exc, PermissionError):
                raise AuthError(f"permission denied: statvfs({mount.point!r})") from None
            raise UnexpectedResponse(
                f"statvfs({mount.point!r}) failed: {exc.strerror or exc}"
            ) from None
        if stat.f_blocks == 0:
            if strict:
                raise UnexpectedResponse(
                    f"{mount.point!r} ({mount.fstype}) reports a size of 0: not a disk filesystem"
                )
            return None
        # As df computes Use%: used / (used + available). Blocks reserved for root are neither,
        # so 100% is reached exactly when an ordinary user's write fails with ENOSPC.
        used = (stat.f_blocks - stat.f_bfree) * stat.f_frsize
        usable = used + max(stat.f_bavail, 0) * stat.f_frsize
        return Reading("disk_used", float(used), resource=mount.point, cap=float(usable))

    # --- network_egress -----------------------------------------------------------------------

    def _counted(self, interface: str) -> bool:
        options = self.options
        if options.interfaces and not any(fnmatchcase(interface, g) for g in options.interfaces):
            return False
        return not any(fnmatchcase(interface, g) for g in options.exclude_interfaces)

    def _egress(
        self, now: datetime, month_start: datetime, previous: EgressState | None
    ) -> EgressUpdate:
        proc = self.options.proc_path
        counters = read_net_dev(proc)
        counted = {name: tx for name, tx in counters.items() if self._counted(name)}
        if self.options.interfaces and not counted:
            raise UnexpectedResponse(
                f"no interface in {proc / 'net' / 'dev'} matches options.interfaces "
                f"{list(self.options.interfaces)} (minus exclude_interfaces); "
                f"present: {', '.join(sorted(counters)) or 'none'}"
            )
        return account_egress(
            previous,
            counted,
            counters.keys(),
            month_start=month_start,
            now=now,
            boot_id=boot_id(proc),
            booted_at=lambda: boot_time(proc),
        )

    # --- block_storage ------------------------------------------------------------------------

    def _block_storage(self) -> Reading | None:
        devices = block_devices(self.options.sys_path)
        if not devices:
            return None
        log.debug("block_storage: %s", ", ".join(f"{d.name}={d.size_bytes}" for d in devices))
        return Reading("block_storage", float(sum(d.size_bytes for d in devices)))


def _month_start(ctx: CollectContext) -> datetime:
    period = ctx.periods.get("network_egress")
    if period is not None and period.start is not None:
        return period.start
    now = ctx.now.astimezone(UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _load_state(raw: Any) -> EgressState | None:
    if raw is None:
        return None
    try:
        return EgressState.model_validate(raw)
    except ValidationError:
        # Our own data, so this is a bug or a downgrade: start over rather than fail forever.
        log.warning("network_egress: stored state is unreadable; recording a new baseline")
        return None
