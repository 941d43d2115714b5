"""The browser tests skip without Chromium, and fail instead when CI requires the browser."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.browser import browser_paths


def test_missing_browser_skips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("QUOTA_WATCH_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="chromium not found"):
        browser_paths()


def test_missing_browser_fails_when_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("QUOTA_WATCH_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="QUOTA_WATCH_REQUIRE_BROWSER is set"):
        browser_paths()


def test_missing_driver_fails_when_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("QUOTA_WATCH_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="chromedriver not found"):
        browser_paths()
