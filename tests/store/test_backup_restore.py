"""Upgrades and data: migrations at start, refusing a newer schema, backup and restore."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine
from typer.testing import CliRunner

from quota_watch.cli.app import app
from quota_watch.collect.once import collect_once
from quota_watch.collect.runtime import OFFLINE_CLIENT, build_runtimes
from quota_watch.config.load import load_config
from quota_watch.config.settings import Config
from quota_watch.engine.rulepack import load_rule_pack
from quota_watch.status.rows import gather_rows, to_json
from quota_watch.store._migrate import alembic_config
from quota_watch.store.backup import restore_sqlite
from quota_watch.store.facade import Store
from quota_watch.store.models import StoreError
from quota_watch.store.revision import HEAD_REVISION
from quota_watch.testing.emulator import Emulator, demo_accounts
from tests.support.daemon_proc import DaemonProcess, free_port, isolated_env

runner = CliRunner()
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
#: report fields that do not depend on the moment the report is made
STABLE_KEYS = (
    "provider",
    "account",
    "limit",
    "resource",
    "value",
    "cap",
    "cap_source",
    "unit",
    "utilization",
    "period_start",
    "period_end",
)


@dataclass
class Site:
    """A config polling emulated accounts into a SQLite file."""

    config_path: Path
    config: Config
    db: Path

    @property
    def url(self) -> str:
        """The store URL."""
        return f"sqlite:///{self.db}"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(demo_accounts(3), seed=7) as running:
        yield running


@pytest.fixture
def site(tmp_path: Path, emulator: Emulator) -> Site:
    db = tmp_path / "data" / "quota-watch.db"
    path = tmp_path / "qw.toml"
    path.write_text(
        emulator.config_toml(store_url=f"sqlite:///{db}", listen=f"127.0.0.1:{free_port()}")
    )
    return Site(path, load_config(path, env={}), db)


async def poll(site: Site, times: int = 3) -> None:
    """Poll every account `times` times: a little history."""
    for _ in range(times):
        results = await collect_once(site.config, [a.name for a in site.config.accounts])
        assert all(r.outcome == "success" for r in results), results


async def history(url: str, config: Config) -> tuple[str, dict[Any, Any], list[Any], int]:
    """What the report and the series show: report rows at NOW, every sample, statuses, runs."""
    store = await Store.open(url, readonly=True)
    try:
        runtimes = build_runtimes(config, OFFLINE_CLIENT)
        rows = await gather_rows(store, runtimes, load_rule_pack(None), config.settings.rules, NOW)
        samples = {
            (r.account, r.limit, r.resource): await store.samples(
                r.account, r.limit, r.resource, EPOCH
            )
            for r in await store.latest()
        }
        statuses = await store.account_statuses()
    finally:
        await store.close()
    with (
        closing(
            sqlite3.connect(f"file:{url.removeprefix('sqlite:///')}?mode=ro", uri=True)
        ) as conn,
        conn,
    ):
        runs = conn.execute("SELECT count(*) FROM collector_run").fetchone()[0]
    return to_json(rows), samples, statuses, runs


def backup_to(site: Site, path: Path) -> None:
    """An online backup through the store API (what `quota-watch db backup` calls)."""

    async def backup() -> None:
        async with await Store.open(site.url) as store:
            await store.backup(path)

    asyncio.run(backup())


def cli_report(site: Site) -> list[dict[str, Any]]:
    """`quota-watch report --format json`, the fields that do not move with the clock."""
    import json

    result = runner.invoke(app, ["report", "--format", "json", "--config", str(site.config_path)])
    assert result.exit_code == 0, result.output
    return [{k: row[k] for k in STABLE_KEYS} for row in json.loads(result.stdout)]


def wipe(db: Path) -> None:
    """Delete the database with its WAL and shared-memory files."""
    for suffix in ("", "-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)


def test_backup_wipe_restore_shows_the_same_history(site: Site, tmp_path: Path) -> None:
    asyncio.run(poll(site))
    before = asyncio.run(history(site.url, site.config))
    report_before = cli_report(site)
    assert sum(len(points) for points in before[1].values()) >= 3 * len(before[1]) > 0
    backup = tmp_path / "backups" / "qw-backup.db"
    backup.parent.mkdir()
    made = runner.invoke(app, ["db", "backup", str(backup), "--config", str(site.config_path)])
    assert made.exit_code == 0, made.output

    wipe(site.db)
    gone = runner.invoke(app, ["report", "--config", str(site.config_path)])
    assert gone.exit_code == 1 and "no readings yet" in gone.output

    result = restore_sqlite(backup, site.db, now=NOW)
    assert result.revision == HEAD_REVISION and result.replaced is None
    assert asyncio.run(history(site.url, site.config)) == before
    assert cli_report(site) == report_before
    # The restored database is a working store: the daemon's start-up and more polls work.
    asyncio.run(poll(site, times=1))
    assert (asyncio.run(history(site.url, site.config)))[3] == before[3] + len(site.config.accounts)


def test_restore_over_a_database_needs_force_and_keeps_the_old_one(
    site: Site, tmp_path: Path
) -> None:
    asyncio.run(poll(site, times=1))
    backup = tmp_path / "one-poll.db"
    backup_to(site, backup)
    asyncio.run(poll(site, times=2))
    newer = asyncio.run(history(site.url, site.config))

    with pytest.raises(StoreError, match=r"refusing to overwrite .*--force"):
        restore_sqlite(backup, site.db, now=NOW)
    assert asyncio.run(history(site.url, site.config)) == newer, "refused means untouched"

    result = restore_sqlite(backup, site.db, now=NOW, force=True)
    assert result.replaced == site.db.with_name("quota-watch.db.replaced-20261122T120000Z")
    restored = asyncio.run(history(site.url, site.config))
    assert restored[3] == len(site.config.accounts) < newer[3]
    assert asyncio.run(history(f"sqlite:///{result.replaced}", site.config)) == newer
    assert not site.db.with_name("quota-watch.db-wal").exists()
    assert not site.db.with_name("quota-watch.db-shm").exists()
    with pytest.raises(StoreError, match="is the database itself"):
        restore_sqlite(site.db, site.db, now=NOW, force=True)


#: a process killed mid-run: its last committed transaction lives only in the -wal file
_CRASH = (
    "import os, sqlite3, sys\n"
    "conn = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
    "conn.execute('PRAGMA journal_mode = WAL')\n"
    "conn.execute('PRAGMA wal_autocheckpoint = 0')\n"
    "conn.execute('DELETE FROM sample')\n"
    "os._exit(0)\n"
)


def sample_count(db: Path) -> int:
    """Rows in the sample table."""
    with closing(sqlite3.connect(db)) as conn, conn:
        return int(conn.execute("SELECT count(*) FROM sample").fetchone()[0])


def test_restore_after_a_crash_applies_no_stale_wal(site: Site, tmp_path: Path) -> None:
    asyncio.run(poll(site, times=1))
    backup = tmp_path / "b.db"
    backup_to(site, backup)
    asyncio.run(poll(site, times=1))
    subprocess.run([sys.executable, "-c", _CRASH, str(site.db)], check=True, timeout=60)
    wal = site.db.with_name("quota-watch.db-wal")
    assert wal.stat().st_size > 0, "the crash left committed data in the WAL"
    # Copying the backup over the file by hand would leave that WAL to be replayed onto it.
    result = restore_sqlite(backup, site.db, now=NOW, force=True)
    assert not wal.exists()
    assert sample_count(site.db) == sample_count(backup) > 0
    assert result.replaced is not None
    assert sample_count(result.replaced) == 0, "the replaced copy includes its WAL's last commit"


@pytest.mark.slow
def test_restore_refuses_while_the_daemon_has_the_database_open(site: Site, tmp_path: Path) -> None:
    asyncio.run(poll(site, times=1))
    backup = tmp_path / "b.db"
    backup_to(site, backup)
    port = free_port()
    with DaemonProcess(tmp_path, port, config=site.config_path) as daemon:
        daemon.wait_for("quota_watch_collector_runs_total", timeout=60)
        with pytest.raises(StoreError, match=r"in use by another process .*stop it first"):
            restore_sqlite(backup, site.db, now=NOW, force=True)
        assert daemon.stop() == 0, daemon.log()
    assert not list(site.db.parent.glob("*.replaced-*")), "nothing moved while refused"
    result = restore_sqlite(backup, site.db, now=NOW, force=True)
    assert result.replaced is not None and result.replaced.is_file()


def test_restore_rejects_damaged_foreign_and_newer_backups(site: Site, tmp_path: Path) -> None:
    asyncio.run(poll(site, times=1))
    good = tmp_path / "good.db"
    backup_to(site, good)
    target = tmp_path / "restored" / "quota-watch.db"

    text = tmp_path / "notes.txt"
    text.write_text("not a database at all, but long enough to have a header " * 100)
    with pytest.raises(StoreError, match="not a usable SQLite database"):
        restore_sqlite(text, target, now=NOW)

    damaged = tmp_path / "damaged.db"
    data = bytearray(good.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    for offset in range(page, len(data) - page, page):  # every page's header but the first
        data[offset : offset + 8] = b"\xff" * 8
    damaged.write_bytes(bytes(data))
    with pytest.raises(StoreError, match=r"damaged\.db (failed the integrity check|is not a)"):
        restore_sqlite(damaged, target, now=NOW)

    foreign = tmp_path / "foreign.db"
    with closing(sqlite3.connect(foreign)) as conn, conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(StoreError, match="not a quota-watch database"):
        restore_sqlite(foreign, target, now=NOW)

    newer = tmp_path / "newer.db"
    newer.write_bytes(good.read_bytes())
    with closing(sqlite3.connect(newer)) as conn, conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StoreError, match="'9999', which this quota-watch does not know"):
        restore_sqlite(newer, target, now=NOW)

    with pytest.raises(StoreError, match="no backup at"):
        restore_sqlite(tmp_path / "missing.db", target, now=NOW)
    assert not target.exists(), "nothing written on refusal"
    assert restore_sqlite(good, target, now=NOW).revision == HEAD_REVISION


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root (chown)")
def test_restore_as_root_keeps_the_service_users_ownership(site: Site, tmp_path: Path) -> None:
    asyncio.run(poll(site, times=1))
    backup = tmp_path / "b.db"
    backup_to(site, backup)
    os.chown(site.db, 4321, 4322)
    site.db.chmod(0o640)
    restore_sqlite(backup, site.db, now=NOW, force=True)
    info = site.db.stat()
    assert (info.st_uid, info.st_gid, info.st_mode & 0o777) == (4321, 4322, 0o640)


def test_backup_needs_a_new_path(site: Site, tmp_path: Path) -> None:
    target = tmp_path / "exists.db"
    target.write_bytes(b"keep me")
    runner.invoke(app, ["collect", "--once", "--config", str(site.config_path)])
    result = runner.invoke(app, ["db", "backup", str(target), "--config", str(site.config_path)])
    assert result.exit_code == 1 and "refusing to overwrite" in result.output
    assert target.read_bytes() == b"keep me"


# --- upgrades ---------------------------------------------------------------------------------


def stamp(db: Path, revision: str) -> None:
    """Overwrite the schema revision, as a newer release's migration would have left it."""
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (revision,))


def run_daemon_once(site: Site, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`quota-watch run` on the site, expected to exit by itself."""
    return subprocess.run(
        [sys.executable, "-m", "quota_watch", "run", "--config", str(site.config_path)],
        cwd=tmp_path,
        env=isolated_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
def test_daemon_refuses_a_schema_from_a_newer_release(site: Site, tmp_path: Path) -> None:
    asyncio.run(poll(site, times=1))
    stamp(site.db, "9999")
    proc = run_daemon_once(site, tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "'9999'" in lines[0] and "newer release" in lines[0] and "Refusing" in lines[0]
    assert "Traceback" not in proc.stdout + proc.stderr
    with closing(sqlite3.connect(site.db)) as conn, conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("9999",)
    migrate = runner.invoke(app, ["db", "migrate", "--config", str(site.config_path)])
    assert migrate.exit_code == 1 and "newer release" in migrate.output


@pytest.mark.slow
def test_daemon_applies_migrations_at_start(site: Site, tmp_path: Path) -> None:
    site.db.parent.mkdir(parents=True)
    engine = create_engine(f"sqlite:///{site.db}")
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0001")
    engine.dispose()
    with closing(sqlite3.connect(site.db)) as conn, conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0001",)
    with DaemonProcess(tmp_path, free_port(), config=site.config_path) as daemon:
        daemon.wait_for("quota_watch_collector_runs_total", timeout=60)
        assert daemon.stop() == 0, daemon.log()
        log = daemon.log()
    assert f"from schema 0001 to {HEAD_REVISION}" in log
    with closing(sqlite3.connect(site.db)) as conn, conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (
            HEAD_REVISION,
        )
