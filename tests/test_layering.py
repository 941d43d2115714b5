"""Dependency direction (design §2): sdk imports nothing internal; collectors only the sdk."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "quota_watch"
COLLECTORS = ROOT / "collectors" / "quota_watch_collectors"


def internal_imports(path: Path) -> set[str]:
    """Modules of quota_watch imported by `path` (absolute imports only; relative stay local)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "quota_watch")
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module
            and node.module.split(".")[0] == "quota_watch"
        ):
            found.add(node.module)
    return found


def test_sdk_imports_nothing_internal() -> None:
    outside = {
        str(path.relative_to(ROOT)): sorted(
            m for m in internal_imports(path) if not m.startswith("quota_watch.sdk")
        )
        for path in (CORE / "sdk").rglob("*.py")
    }
    assert {k: v for k, v in outside.items() if v} == {}


def test_collectors_import_only_the_sdk() -> None:
    offenders = {}
    for path in COLLECTORS.rglob("*.py"):
        allowed = {"quota_watch.sdk"}
        # a collector's tests and its loopback emulator (test infrastructure) use the test kit
        if "tests" in path.relative_to(COLLECTORS).parts or path.name == "emulator.py":
            allowed |= {"quota_watch.testing"}
        bad = {m for m in internal_imports(path) if not any(m.startswith(a) for a in allowed)}
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_engine_never_imports_exposition_notify_or_server() -> None:
    forbidden = ("quota_watch.prometheus", "quota_watch.notify", "quota_watch.daemon")
    offenders = {}
    for path in (CORE / "engine").rglob("*.py"):
        bad = {m for m in internal_imports(path) if m.startswith(forbidden)}
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_nothing_imports_bare_collectors_or_rules_packages() -> None:
    offenders = []
    for path in [*CORE.rglob("*.py"), *COLLECTORS.rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            if any(n.split(".")[0] in {"collectors", "rules"} for n in names):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
