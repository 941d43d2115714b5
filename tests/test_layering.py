"""Dependency direction (design §2): the sdk imports nothing internal, collectors only the sdk,
the engine no I/O stage, the read model no process; no import cycles; the report without
SQLAlchemy."""

from __future__ import annotations

import ast
import functools
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path

from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "quota_watch"
COLLECTORS = ROOT / "collectors" / "quota_watch_collectors"


def module_name(path: Path, base: Path) -> str:
    """The dotted name of the module at `path`, `base` being the folder its package sits in."""
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """Ids of the nodes inside `if TYPE_CHECKING:` blocks (imports for annotations only)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    return skipped


def package_of(path: Path) -> str:
    """The package that relative imports in `path` (in quota_watch or the collectors) start
    from."""
    name = module_name(path, ROOT if path.is_relative_to(CORE) else COLLECTORS.parent)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


@functools.cache
def _parse(path: Path) -> ast.Module:
    """The syntax tree of `path`, parsed once per test session."""
    return ast.parse(path.read_text(), str(path))


def imported_names(
    path: Path, *, package: str | None = None, type_checking: bool = True
) -> set[str]:
    """Every dotted name `path` imports, function-level ones included: `from a import b` gives
    `a` and `a.b` (b may be a module). Relative imports are resolved against `package` (by
    default the file's own); `type_checking=False` leaves out those under `if TYPE_CHECKING:`."""
    tree = _parse(path)
    skipped = set() if type_checking else _type_checking_nodes(tree)
    package = package_of(path) if package is None else package
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def internal_imports(
    path: Path, *, package: str | None = None, type_checking: bool = True
) -> set[str]:
    """The quota_watch modules (and names in them) that `path` imports."""
    return {
        name
        for name in imported_names(path, package=package, type_checking=type_checking)
        if name.split(".")[0] == "quota_watch"
    }


@functools.cache
def core_modules() -> dict[str, Path]:
    """Every module of quota_watch by dotted name."""
    return {module_name(path, ROOT): path for path in sorted(CORE.rglob("*.py"))}


def import_graph() -> dict[str, set[str]]:
    """quota_watch's module graph: an edge for every import that runs (lazy ones included),
    none for those under `if TYPE_CHECKING:`."""
    modules = core_modules()
    return {
        name: {m for m in internal_imports(path, type_checking=False) if m in modules} - {name}
        for name, path in modules.items()
    }


def cyclic_groups(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(graph[nxt])))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))
    return sorted(groups)


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


def test_cyclic_groups_are_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": {"d"}, "f": set()}
    assert cyclic_groups(graph) == [["a", "b", "c"], ["d", "e"]]


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
    groups = cyclic_groups(import_graph())
    assert not groups, "import cycles in quota_watch:\n" + "\n".join(
        "  " + " <-> ".join(group) for group in groups
    )


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
heavy = {{"sqlalchemy", "sqlmodel", "alembic", "aiosqlite", "asyncpg"}}
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & heavy)))
"""


def test_report_plan_and_history_never_import_sqlalchemy(tmp_path: Path) -> None:
    from quota_watch.cli.app import app

    config = tmp_path / "qw.toml"
    config.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "qw.db"}"\n'
        '[[accounts]]\nname = "vm"\ncollector = "host"\n'
    )
    collected = CliRunner().invoke(app, ["collect", "--once", "-f", "json", "-c", str(config)])
    assert collected.exit_code == 0, collected.output
    reading = json.loads(collected.stdout)[0]
    history = ["history", "-c", str(config), "--account", "vm", "--limit", reading["limit"]]
    if reading.get("resource"):
        history += ["--resource", reading["resource"]]
    commands = [
        ["report", "-c", str(config)],
        ["report", "-f", "json", "-c", str(config)],
        ["plan", "-c", str(config)],
        history,
    ]
    script = _REPORT_RUN.format(commands=commands)
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
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
