"""The page tests' session summary: where the screenshots went (CI keeps that directory)."""

from __future__ import annotations

import pytest

from tests.support.browser import SAVED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """List the screenshots the browser tests saved, after the test results."""
    if SAVED:
        terminalreporter.section("status page screenshots")
        for path in SAVED:
            terminalreporter.write_line(str(path))
