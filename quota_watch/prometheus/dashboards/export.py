"""Writing the generated dashboards to files, and checking committed files for drift."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from quota_watch.prometheus.dashboards.build import Inputs, build_all

__all__ = ["default_output_dir", "differences", "load_inputs", "render", "write"]

_CHECKOUT = Path(__file__).resolve().parents[3]


def default_output_dir() -> Path | None:
    """dashboards/ of the source checkout this package runs from (None when installed)."""
    if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "rules").is_dir():
        return _CHECKOUT / "dashboards"
    return None


def load_inputs(rule_pack: Path | None = None) -> Inputs:
    """The installed collectors' catalogues and the rule pack (the shipped one by default).

    Raises RegistryError (a collector fails to load) or RulePackError.
    """
    from quota_watch.collect.registry import discover
    from quota_watch.engine.rulepack import load_rule_pack

    catalogues = {name: info.catalogue for name, info in discover().items()}
    return Inputs(catalogues=catalogues, pack=load_rule_pack(rule_pack))


def dump(model: dict[str, Any]) -> str:
    """A dashboard's file text: stable key order and indentation, one trailing newline."""
    return json.dumps(model, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render(inputs: Inputs) -> dict[str, str]:
    """Every dashboard file's text by file name."""
    return {name: dump(model) for name, model in sorted(build_all(inputs).items())}


def differences(directory: Path, files: dict[str, str]) -> list[str]:
    """One line per file in `directory` that is missing or differs from `files`."""
    found: list[str] = []
    for name, text in files.items():
        path = directory / name
        try:
            current = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            found.append(f"{path}: missing")
            continue
        if current != text:
            found.append(f"{path}: differs from the generated dashboard")
    return found


def write(directory: Path, files: dict[str, str]) -> list[Path]:
    """Write `files` into `directory` (created if absent); returns the paths written.

    Each file is replaced atomically, so Grafana's file provider never reads half a dashboard.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, text in files.items():
        path = directory / name
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
            Path(tmp).chmod(0o644)
            Path(tmp).replace(path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(path)
    return written
