"""Print the code's shape: loose top-level modules, import cycles, the largest module and function.

Usage: .venv/bin/python scripts/shape.py [--root CHECKOUT] [--max-lines 500] [--max-function 80]
--root measures another checkout (e.g. a `git worktree` of an older commit) the same way.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.imports import find_cycle, internal_imports, module_name


def _modules(root: Path) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted((root / "quota_watch").rglob("*.py"))}


def _graph(root: Path, modules: dict[str, Path]) -> dict[str, set[str]]:
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = internal_imports(path, package=package, type_checking=False)
        graph[name] = {m for m in found if m in modules} - {name}
    return graph


def _sizes(root: Path) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(lines, module) and (lines, function) of quota_watch/ and collectors/, largest first."""
    files, functions = [], []
    for path in [*(root / "quota_watch").rglob("*.py"), *(root / "collectors").rglob("*.py")]:
        text = path.read_text()
        where = str(path.relative_to(root))
        files.append((len(text.splitlines()), where))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                functions.append((length, f"{where}:{node.lineno} {node.name}"))
    return sorted(files, reverse=True), sorted(functions, reverse=True)


def main() -> int:
    """Print the figures; exit 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--max-lines", type=int, default=500)
    parser.add_argument("--max-function", type=int, default=80)
    args = parser.parse_args()
    root: Path = args.root.resolve()
    loose = sorted(
        p.name
        for p in (root / "quota_watch").glob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    )
    modules = _modules(root)
    graph = _graph(root, modules)
    cycle = find_cycle(graph)
    files, functions = _sizes(root)
    print(f"top-level modules in quota_watch/: {len(loose)} ({', '.join(loose)})")
    print(f"modules in quota_watch/: {len(modules)}")
    print("import cycle: " + (" -> ".join(cycle) if cycle else "none"))
    print(f"largest module: {files[0][1]} ({files[0][0]} lines)")
    print(f"largest function: {functions[0][1]} ({functions[0][0]} lines)")
    over = [f for f in files if f[0] > args.max_lines]
    long = [f for f in functions if f[0] > args.max_function]
    print(f"modules over {args.max_lines} lines: {len(over)}")
    print(f"functions over {args.max_function} lines: {len(long)}")
    for lines, where in [*over, *long]:
        print(f"  {lines:5d}  {where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
