"""The browser tests skip without Chromium or Playwright, and fail instead when CI requires the
browser."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.support.browser import browser_path


def test_missing_browser_skips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("QUOTA_WATCH_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="chromium not found"):
        browser_path()


def test_missing_browser_fails_when_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("QUOTA_WATCH_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="QUOTA_WATCH_REQUIRE_BROWSER is set"):
        browser_path()


def fake_chromium(directory: Path) -> None:
    fake = directory / "chromium"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)


def test_missing_playwright_skips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_chromium(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("QUOTA_WATCH_REQUIRE_BROWSER", raising=False)
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)  # as if not installed
    with pytest.raises(pytest.skip.Exception, match="playwright"):
        browser_path()


def test_missing_playwright_fails_when_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_chromium(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("QUOTA_WATCH_REQUIRE_BROWSER", "1")
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)
    with pytest.raises(pytest.fail.Exception, match=r"playwright .* QUOTA_WATCH_REQUIRE_BROWSER"):
        browser_path()


def test_the_system_chromium_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("playwright.sync_api")
    fake_chromium(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert browser_path() == str(tmp_path / "chromium")
