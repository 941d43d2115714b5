"""The README's quick start and test command are what `.ci/run` runs, line for line."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fenced_after(text: str, marker: str) -> list[str]:
    """The lines of the first ```sh block after `marker`."""
    tail = text[text.index(marker) :]
    match = re.search(r"```sh\n(.*?)```", tail, re.DOTALL)
    assert match is not None, f"no sh block after {marker!r}"
    return [line for line in match.group(1).splitlines() if line.strip()]


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    (command,) = fenced_after(readme, "This is the test command")
    assert command == ".venv/bin/pip install -q -e '.[dev]' && .venv/bin/python -m pytest"
    assert command in ci


def test_quick_start_installs_only_what_running_needs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (install,) = fenced_after(readme, "## Quick start")
    assert "pip install -e . " in install and "[dev]" not in install
    ci = (ROOT / ".ci" / "run").read_text()
    assert ".venv/bin/pip install -q -e .\n" in ci
    assert ci.index("pip install -q -e .\n") < ci.index("pip install -q -e '.[dev]'")
