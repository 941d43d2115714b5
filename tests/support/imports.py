"""quota_watch's import graph read from the source: what each module imports, and cycles."""

from __future__ import annotations

import ast
import functools
import graphlib
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
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


def find_cycle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    """One import cycle of `graph` as the modules along it (first == last), or None."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        return list(exc.args[1])
    return None
