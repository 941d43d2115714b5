"""Dependency direction (design §2): the sdk imports nothing internal, collectors only the sdk,
the engine no I/O stage, the read model no process; no import cycles; the report without
SQLAlchemy, HTTP or an event loop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path

from typer.testing import CliRunner

from tests.support.imports import (
    COLLECTORS,
    CORE,
    ROOT,
    find_cycle,
    import_graph,
    imported_names,
    internal_imports,
)


def offenders(
    files: Iterable[Path], forbidden: tuple[str, ...], *, type_checking: bool = True
) -> dict[str, list[str]]:
    """Each file importing a module under one of the `forbidden` prefixes, with those imports."""
    found = {}
    for path in files:
        bad = {
            m
            for m in internal_imports(path, type_checking=type_checking)
            if any(m == f or m.startswith(f + ".") for f in forbidden)
        }
        if bad:
            found[str(path.relative_to(ROOT))] = sorted(bad)
    return found


def is_test_infrastructure(path: Path) -> bool:
    """A collector's tests and its loopback emulator (module or package) use the test kit."""
    parts = path.relative_to(COLLECTORS).parts
    return "tests" in parts or path.name == "emulator.py" or "emulator" in parts[:-1]


# --- direction ---------------------------------------------------------------------------------


def test_sdk_imports_nothing_internal() -> None:
    outside = {
        str(path.relative_to(ROOT)): sorted(
            m
            for m in internal_imports(path)
            if m != "quota_watch" and not m.startswith("quota_watch.sdk")
        )
        for path in (CORE / "sdk").rglob("*.py")
    }
    assert {k: v for k, v in outside.items() if v} == {}


def test_collectors_import_only_the_sdk() -> None:
    found = {}
    for path in COLLECTORS.rglob("*.py"):
        allowed = ["quota_watch.sdk"]
        if is_test_infrastructure(path):
            allowed.append("quota_watch.testing")
        bad = {
            m
            for m in internal_imports(path)
            if m != "quota_watch" and not any(m == a or m.startswith(a + ".") for a in allowed)
        }
        if bad:
            found[str(path.relative_to(ROOT))] = sorted(bad)
    assert found == {}


def test_engine_imports_no_io_stage() -> None:
    forbidden = tuple(
        f"quota_watch.{stage}" for stage in ("store", "prometheus", "notify", "daemon", "cli")
    )
    assert offenders((CORE / "engine").rglob("*.py"), forbidden) == {}


def test_status_never_imports_the_daemon_or_the_cli() -> None:
    forbidden = ("quota_watch.daemon", "quota_watch.cli")
    assert offenders((CORE / "status").rglob("*.py"), forbidden) == {}


def test_the_status_page_never_imports_the_daemon_or_the_cli() -> None:
    # The daemon mounts quota_watch.web (passing its auth check in), not the other way round.
    forbidden = ("quota_watch.daemon", "quota_watch.cli")
    assert offenders((CORE / "web").rglob("*.py"), forbidden) == {}


def test_only_test_infrastructure_imports_the_test_kit() -> None:
    shipped = [p for p in CORE.rglob("*.py") if not p.is_relative_to(CORE / "testing")]
    shipped += [p for p in COLLECTORS.rglob("*.py") if not is_test_infrastructure(p)]
    assert offenders(shipped, ("quota_watch.testing",)) == {}


def test_nothing_imports_bare_collectors_or_rules_packages() -> None:
    found = []
    for path in [*CORE.rglob("*.py"), *COLLECTORS.rglob("*.py")]:
        if any(n.split(".")[0] in {"collectors", "rules"} for n in imported_names(path)):
            found.append(str(path.relative_to(ROOT)))
    assert found == []


# --- cycles ------------------------------------------------------------------------------------


def test_a_cycle_is_found() -> None:
    cycle = find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "f": set()})
    assert cycle is not None and cycle[0] == cycle[-1] and set(cycle) == {"a", "b", "c"}
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_relative_and_lazy_imports_count_but_type_checking_ones_do_not(tmp_path: Path) -> None:
    module = tmp_path / "probe.py"
    module.write_text(
        textwrap.dedent(
            """
        from typing import TYPE_CHECKING
        from . import rows
        from ..engine import pools
        if TYPE_CHECKING:
            from quota_watch.daemon import process
        def later():
            import quota_watch.store.models
        """
        )
    )
    names = internal_imports(module, package="quota_watch.status", type_checking=False)
    assert {"quota_watch.status.rows", "quota_watch.engine.pools"} <= names
    assert "quota_watch.store.models" in names
    assert not any(n.startswith("quota_watch.daemon") for n in names)


def test_no_import_cycles() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle in quota_watch: " + " -> ".join(cycle or ())


# --- the report's imports ----------------------------------------------------------------------

_REPORT_RUN = """
import json, sys
from quota_watch.cli.app import app
for argv in {commands!r}:
    try:
        app(argv, prog_name="quota-watch")
    except SystemExit as exit:
        if exit.code not in (0, None):
            raise
heavy = {{"sqlalchemy", "sqlmodel", "alembic", "aiosqlite", "asyncpg", "apscheduler",
         "apprise", "uvicorn", "starlette", "jinja2", "prometheus_client",
         # what only polling, the daemon or an environment override needs: HTTP (the
         # collectors build their clients lazily), the event loop (a plain SQLite store is read
         # without one), TLS, pydantic-settings (no QUOTA_WATCH_* variable is set here)
         "httpx", "httpcore", "asyncio", "ssl", "pydantic_settings", "dotenv"}}
# the daemon's modules and the other commands' modules are not on these commands' path
elsewhere = ("quota_watch.daemon.process", "quota_watch.cli.run", "quota_watch.cli.db",
             "quota_watch.engine.replay", "quota_watch.notify.outbox",
             "quota_watch.daemon.auth", "quota_watch.notify.deliver",
             "quota_watch.collect.transport", "quota_watch.config.environ")
# (quota_watch.cli blocks httpx._main with a None entry: only modules really loaded count)
loaded = [m for m, module in sys.modules.items() if module is not None]
other = {{m for m in loaded if m.startswith(elsewhere)}}
print(json.dumps(sorted(({{m.split(".")[0] for m in loaded}} & heavy) | other)))
"""


def test_report_plan_and_history_import_only_their_path(tmp_path: Path) -> None:
    from quota_watch.cli.app import app

    config = tmp_path / "qw.toml"
    store = f'[store]\nurl = "sqlite:///{tmp_path / "qw.db"}"\n'
    config.write_text(store + '[[accounts]]\nname = "vm"\ncollector = "host"\n')
    collected = CliRunner().invoke(app, ["collect", "--once", "-f", "json", "-c", str(config)])
    assert collected.exit_code == 0, collected.output
    reading = json.loads(collected.stdout)[0]
    history = ["history", "-c", str(config), "--account", "vm", "--limit", reading["limit"]]
    if reading.get("resource"):
        history += ["--resource", reading["resource"]]
    # An HTTP collector too (never polled here): building it must not load httpx.
    config.write_text(
        config.read_text()
        + '[[accounts]]\nname = "api"\ncollector = "http_json"\n'
        + '[accounts.options]\nurl = "http://127.0.0.1:9/usage"\n'
        + '[accounts.options.limits.requests]\ntitle = "Requests"\nunit = "count"\n'
        + 'measure = "level"\nperiod = "none"\n'
        + 'value = "used"\ncap = 100\n'
    )
    commands = [
        ["report", "-c", str(config)],
        ["report", "-f", "json", "-c", str(config)],
        ["plan", "-c", str(config)],
        history,
    ]
    script = _REPORT_RUN.format(commands=commands)
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("QUOTA_WATCH_")}
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == []


def test_no_test_module_imports_another() -> None:
    # Shared helpers live in tests/support/ or a collector's tests/support.py: importing a test
    # module runs its module-level setup and ties two test files together.
    offenders = {}
    tests_and_benches = [*(ROOT / "tests").rglob("*.py"), *ROOT.glob("bench/*.py")]
    for path in [*tests_and_benches, *COLLECTORS.rglob("*.py")]:
        package = None if path.is_relative_to(COLLECTORS) else ""
        names = imported_names(path, package=package)
        tests = sorted(n for n in names if any(p.startswith("test_") for p in n.split(".")))
        if tests:
            offenders[str(path.relative_to(ROOT))] = tests
    assert offenders == {}
