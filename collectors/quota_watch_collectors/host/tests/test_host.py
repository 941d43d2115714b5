"""Tests of the host collector: /proc parsers, egress accounting on fake /proc trees, options,
probe, plus one check against `df` here."""

from __future__ import annotations

import math
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from quota_watch_collectors.host.collector import STATE_KEY, HostCollector
from quota_watch_collectors.host.options import HostOptions
from quota_watch_collectors.host.procfs import parse_mounts, parse_net_dev
from quota_watch_collectors.host.tests.support import (
    BOOT_ID,
    DEC_1,
    NET_DEV_DOC,
    NOV_1,
    NOW,
    Tree,
    by_limit,
    egress,
    host,
    make_ctx,
)

from quota_watch.sdk import AuthError, NoData, UnexpectedResponse
from quota_watch.testing import catalogue_limits

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


def _df_root() -> tuple[int, int, int]:
    """df's Used, Available and Use% (Capacity) of /."""
    out = subprocess.run(["df", "-P", "-B1", "/"], capture_output=True, text=True, check=True)
    # Filesystem 1B-blocks Used Available Capacity Mounted-on
    fields = out.stdout.splitlines()[-1].split()
    return int(fields[2]), int(fields[3]), int(fields[4].rstrip("%"))


@pytest.fixture
def real_root_mounted() -> Iterator[None]:
    if shutil.which("df") is None:
        pytest.skip("df is not installed")
    if not Path("/proc/self/mounts").exists():
        pytest.skip("no /proc on this system")
    yield


@pytest.mark.usefixtures("real_root_mounted")
async def test_root_matches_df_on_this_machine(client: httpx.AsyncClient) -> None:
    collector = HostCollector(HostOptions(mounts=("/",)), client, catalogue_limits(HostCollector))
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
    used, available, use_percent = before
    assert (root.value, root.cap) == (float(used), float(used + available))
    assert root.cap is not None
    # df rounds Use% up to the next whole percent.
    assert math.ceil(100 * root.value / root.cap) == use_percent
