"""Locating promtool for tests: skip when absent, fail when QUOTA_WATCH_REQUIRE_PROMTOOL is set."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def promtool() -> str:
    """Path of promtool, or skip (fail when the CI said it must be there)."""
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("QUOTA_WATCH_REQUIRE_PROMTOOL"):
            pytest.fail("promtool not found but QUOTA_WATCH_REQUIRE_PROMTOOL is set")
        pytest.skip("promtool not installed (Debian package: prometheus)")
    return path


def check_metrics(text: bytes) -> str:
    """Run `promtool check metrics` on an exposition; returns what it printed."""
    proc = subprocess.run(
        [promtool(), "check", "metrics"], input=text, capture_output=True, timeout=60
    )
    return (proc.stdout + proc.stderr).decode().strip()
