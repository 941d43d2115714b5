"""Locating promtool, amtool and Alertmanager for tests: skip when absent, fail when the CI
said they must be there (QUOTA_WATCH_REQUIRE_PROMTOOL, QUOTA_WATCH_REQUIRE_ALERTMANAGER)."""

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


def _required_binary(name: str, package: str) -> str:
    """Path of `name`, or skip (fail when QUOTA_WATCH_REQUIRE_ALERTMANAGER is set)."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("QUOTA_WATCH_REQUIRE_ALERTMANAGER"):
            pytest.fail(f"{name} not found but QUOTA_WATCH_REQUIRE_ALERTMANAGER is set")
        pytest.skip(f"{name} not installed (Debian package: {package})")
    return path


def amtool() -> str:
    """Path of amtool (Debian package prometheus-alertmanager), or skip."""
    return _required_binary("amtool", "prometheus-alertmanager")


def alertmanager() -> str:
    """Path of the Alertmanager server (Debian names it prometheus-alertmanager), or skip."""
    return _required_binary("prometheus-alertmanager", "prometheus-alertmanager")
