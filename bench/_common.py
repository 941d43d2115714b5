"""Shared helpers of the benchmarks: machine facts, emulator subprocess, stats, result rows."""

from __future__ import annotations

import argparse
import cProfile
import http.client
import json
import os
import platform
import pstats
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

REPO = Path(__file__).resolve().parent.parent
# The benches run as scripts (`python bench/X.py`): the repository root makes tests.support
# importable, whose daemon-process helper they share with the end-to-end tests.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.support import daemon_proc  # noqa: E402
from tests.support.daemon_proc import free_port as free_port  # noqa: E402  (for the benches)


@dataclass(frozen=True)
class Result:
    """One headline figure of a bench, as run_all.py tabulates it."""

    bench: str
    metric: str
    value: str
    target: str = ""
    verdict: str = ""  # "met", "MISSED" or "" (no target)
    note: str = ""


def verdict(ok: bool) -> str:
    """The verdict word for a figure checked against its target."""
    return "met" if ok else "MISSED"


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or the platform's processor string)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def loadavg() -> str:
    """The 1/5/15-minute load averages (other work on the machine skews the figures)."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def machine_line() -> str:
    """One line saying what the figures were measured on."""
    return (
        f"{os.cpu_count()} CPU ({cpu_model()}), Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.system()} {platform.release()}, "
        f"load avg {loadavg()}"
    )


def header(title: str, what: str) -> None:
    """Print the bench's title, what it measures, and the machine."""
    print(f"# {title}")
    print(what)
    print(f"machine: {machine_line()}")
    print()


def median(values: Sequence[float]) -> float:
    """The median of `values`."""
    return statistics.median(values)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) of `values`, nearest-rank (no interpolation)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    """Seconds as milliseconds with one decimal."""
    return f"{seconds * 1000:.1f} ms"


def mib(nbytes: float) -> str:
    """Bytes as MiB with one decimal."""
    return f"{nbytes / 2**20:.1f} MiB"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (readable as plain text too)."""
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells
    ]
    lines.insert(1, "| " + " | ".join("-" * w for w in widths) + " |")
    return "\n".join(lines)


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """--quick and --json, which every bench takes."""
    parser.add_argument(
        "--quick", action="store_true", help="a smaller run for smoke checks (< 60 s)"
    )
    parser.add_argument(
        "--json", type=Path, default=None, help="also write the headline figures to this file"
    )


def write_results(path: Path | None, results: Sequence[Result], extra: Mapping[str, Any]) -> None:
    """Print the headline figures and write them (with `extra` details) to `path` as JSON."""
    print()
    print(
        table(
            ["metric", "value", "target", "verdict"],
            [(r.metric, r.value, r.target, r.verdict) for r in results],
        )
    )
    if path is not None:
        document = {
            "machine": machine_line(),
            "results": [asdict(r) for r in results],
            "details": extra,
        }
        path.write_text(json.dumps(document, indent=2, default=str), encoding="utf-8")


#: bytecode cache of the measured subprocesses (outside the repository; kept between runs)
PYCACHE = Path(tempfile.gettempdir()) / "qw-bench-pycache"


def isolated_env(workdir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a measured subprocess: no QUOTA_WATCH_*, user dirs in `workdir`.

    Bytecode caching is switched on (into PYCACHE) even where PYTHONDONTWRITEBYTECODE is set,
    as it is in some development containers: an installed package has its .pyc files, and
    recompiling every module on each start would inflate start-up times.
    """
    env = daemon_proc.isolated_env(workdir, extra)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def rss_bytes(pid: int) -> int:
    """VmRSS of process `pid` in bytes (resident set: what the OOM killer and `top` count)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


class EmulatorProcess:
    """The provider emulator (`python -m quota_watch.testing.emulator`) in its own process.

    Its own process so that its CPU time does not share the measured process's GIL.
    """

    def __init__(
        self,
        workdir: Path,
        accounts: int,
        *,
        latency: float = 0.0,
        interval: str = "1m",
        store_url: str | None = None,
        seed: int = 0,
    ) -> None:
        self.config_path = workdir / "emulator-config.toml"
        self.log_path = workdir / "emulator.log"
        args = [
            sys.executable,
            "-m",
            "quota_watch.testing.emulator",
            "--accounts",
            str(accounts),
            "--port",
            "0",
            "--latency",
            str(latency),
            "--seed",
            str(seed),
            "--interval",
            interval,
            "--config-out",
            str(self.config_path),
        ]
        if store_url is not None:
            args += ["--store-url", store_url]
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            args, cwd=workdir, env=isolated_env(workdir), stdout=self._log, stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout: float = 30.0) -> Path:
        """Wait until the emulator serves and its daemon config is written; returns the config."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"emulator exited:\n{self.log_path.read_text(errors='replace')}")
            if "daemon config written" in self.log_path.read_text(errors="replace"):
                return self.config_path
            time.sleep(0.05)
        raise RuntimeError("emulator did not start in time")

    def __enter__(self) -> Self:
        self.wait_ready()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()

    def cpu_seconds(self) -> float:
        """User + system CPU time the emulator has used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks


def profile_by_package(profile: cProfile.Profile, top: int = 12) -> str:
    """Own (tottime) CPU of a cProfile run added up per package: where the time goes.

    Only the profiled thread is seen (for the store: not SQLite's own C work in aiosqlite's
    thread). cProfile slows Python code down, so read shares, not absolute times.
    """
    stats = pstats.Stats(profile)
    totals: Counter[str] = Counter()
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in raw.items():
        totals[_package_of(filename, name)] += tottime
    grand = sum(totals.values()) or 1.0
    rows = [(pkg, f"{t:.2f} s", f"{t / grand:.0%}") for pkg, t in totals.most_common(top)]
    return table(["where (own time)", "time", "share"], rows)


def _package_of(filename: str, name: str) -> str:
    match = re.search(r"site-packages/([^/]+)", filename)
    if match:
        return match.group(1).removesuffix(".py")
    if "/quota_watch/" in filename:
        return "quota_watch"
    if "/quota_watch_collectors/" in filename:
        return "quota_watch_collectors"
    if "importlib" in filename:
        return "importlib (imports, incl. failed ones)"
    if "/asyncio/" in filename:
        return "asyncio"
    if filename == "~":
        if "epoll" in name or "select" in name:
            return "epoll wait (idle or syscall)"
        return f"builtin {name.strip('<>')}"
    return "stdlib " + Path(filename).name


class BenchDaemon(daemon_proc.DaemonProcess):
    """The tests' daemon subprocess, started in the benches' environment (bytecode cache on)."""

    def __init__(
        self, workdir: Path, config: Path | None, port: int, env: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(workdir, port, config, env, base_env=isolated_env(workdir))

    def timed_get(self, path: str, timeout: float = 30.0) -> tuple[int, bytes, float]:
        """GET `path` on a fresh connection: status, body, seconds to the last byte."""
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            return response.status, body, time.perf_counter() - t0
        finally:
            conn.close()


def sqlite_count(db: Path, sql: str) -> int:
    """One integer from a read-only query on the SQLite file (0 if the table is not there yet)."""
    if not db.exists():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return int(conn.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()
