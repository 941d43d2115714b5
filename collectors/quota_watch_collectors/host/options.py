"""Options of the host collector: where /proc and /sys are, which mounts and interfaces count."""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

__all__ = [
    "DEFAULT_EXCLUDE_INTERFACES",
    "DEFAULT_SKIP_FSTYPES",
    "DEFAULT_SKIP_MOUNT_POINTS",
    "HostOptions",
]

# Pseudo and in-memory filesystems hold no disk space; network filesystems are not this host's
# disk, and statvfs() on a hung NFS/CIFS server blocks forever. squashfs is snap images (always
# 100% full). overlay is deliberately absent: it is the root filesystem inside containers.
DEFAULT_SKIP_FSTYPES: tuple[str, ...] = (
    "autofs",
    "binfmt_misc",
    "bpf",
    "ceph",
    "cgroup",
    "cgroup2",
    "cifs",
    "configfs",
    "debugfs",
    "devpts",
    "devtmpfs",
    "efivarfs",
    "fuse.gvfsd-fuse",
    "fuse.lxcfs",
    "fuse.portal",
    "fuse.rclone",
    "fuse.s3fs",
    "fuse.snapfuse",
    "fuse.sshfs",
    "fusectl",
    "glusterfs",
    "hugetlbfs",
    "iso9660",
    "mqueue",
    "nfs",
    "nfs4",
    "nfsd",
    "nsfs",
    "proc",
    "pstore",
    "ramfs",
    "rpc_pipefs",
    "securityfs",
    "selinuxfs",
    "smb3",
    "smbfs",
    "squashfs",
    "sysfs",
    "tmpfs",
    "tracefs",
    "udf",
)

# Container runtimes mount one overlay per container under these; each reports the same
# backing filesystem as the host's own mount of it.
DEFAULT_SKIP_MOUNT_POINTS: tuple[str, ...] = (
    "/run/containerd/*",
    "/run/docker/*",
    "/run/k3s/*",
    "/snap/*",
    "/var/lib/containers/*",
    "/var/lib/docker/*",
    "/var/lib/kubelet/*",
)

# Loopback, container and VM plumbing, bridges, tunnels and VPNs: their traffic is sent again on
# the physical NIC (or never leaves the host), so counting it would count egress twice.
DEFAULT_EXCLUDE_INTERFACES: tuple[str, ...] = (
    "lo",
    "br-*",
    "cali*",
    "cilium*",
    "cni*",
    "docker*",
    "dummy*",
    "erspan*",
    "flannel*",
    "genev_sys_*",
    "gre*",
    "ifb*",
    "ip6_vti*",
    "ip6gre*",
    "ip6tnl*",
    "ip_vti*",
    "kube-*",
    "lxc*",
    "lxdbr*",
    "nodelocaldns",
    "podman*",
    "sit*",
    "tailscale*",
    "tap*",
    "tun*",
    "tunl*",
    "veth*",
    "virbr*",
    "vnet*",
    "vxlan*",
    "weave*",
    "wg*",
    "zt*",
)


def _mount_point(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"{value!r}: a mount point must be an absolute path")
    return posixpath.normpath(value) if value != "/" else value


MountPoint = Annotated[str, AfterValidator(_mount_point)]
Glob = Annotated[str, Field(min_length=1)]


class HostOptions(BaseModel):
    """`[accounts.options]` of a `host` account; every field has a working default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    proc_path: Path = Field(default=Path("/proc"), description="procfs mount point")
    sys_path: Path = Field(default=Path("/sys"), description="sysfs mount point")
    mounts: tuple[MountPoint, ...] = Field(
        default=(),
        description="mount points to report (empty: every eligible mount); each must be mounted",
    )
    skip_fstypes: tuple[Glob, ...] = Field(
        default=DEFAULT_SKIP_FSTYPES,
        description="filesystem type globs left out when `mounts` is empty; replaces the default",
    )
    skip_mount_points: tuple[Glob, ...] = Field(
        default=DEFAULT_SKIP_MOUNT_POINTS,
        description="mount point globs left out when `mounts` is empty; replaces the default",
    )
    interfaces: tuple[Glob, ...] = Field(
        default=(),
        description="network interfaces (globs) to count (empty: every non-excluded interface)",
    )
    exclude_interfaces: tuple[Glob, ...] = Field(
        default=DEFAULT_EXCLUDE_INTERFACES,
        description="interface globs never counted; replaces the default",
    )
    oracle: bool | Literal["auto"] = Field(
        default="auto",
        description="apply Oracle Cloud Always Free caps (10 TB egress, 200 GB block storage): "
        '"auto" where the DMI chassis asset tag says OracleCloud.com, else true or false',
    )
