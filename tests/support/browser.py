"""A real headless Chromium for page tests (Selenium + Debian's chromium and chromedriver):
skip when absent, fail when QUOTA_WATCH_REQUIRE_BROWSER is set; screenshots at a given width."""

from __future__ import annotations

import base64
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
"""Where the page tests save screenshots (gitignored; CI keeps the directory)."""

_CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
SAVED: list[Path] = []
"""The screenshots saved in this session (tests/web/conftest.py lists them at the end)."""


def _missing(what: str) -> None:
    message = f"{what} not found (Debian packages: chromium chromium-driver)"
    if os.environ.get("QUOTA_WATCH_REQUIRE_BROWSER"):
        pytest.fail(f"{message} but QUOTA_WATCH_REQUIRE_BROWSER is set")
    pytest.skip(message)


def browser_paths() -> tuple[str, str]:
    """(chromium, chromedriver), or skip (fail when the CI said they must be there)."""
    chromium = next((p for p in map(shutil.which, _CHROMIUM) if p), None)
    if chromium is None:
        _missing("chromium")
    driver = shutil.which("chromedriver")
    if driver is None:
        _missing("chromedriver")
    assert chromium is not None and driver is not None
    try:
        import selenium  # noqa: F401
    except ImportError:
        _missing("selenium (pip install -e '.[dev]')")
    return chromium, driver


@contextmanager
def chromium(*, javascript: bool = True) -> Iterator[Any]:
    """A headless Chromium driven by chromedriver (JavaScript off when asked); quit after."""
    binary, driver_path = browser_paths()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root in a container
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--window-size=1280,900",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # console, CSP reports
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2}
        )
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def send_basic_auth(driver: Any, user: str, password: str) -> None:
    """Send these credentials with every request of `driver` (as a browser does after the
    login prompt, which headless Chromium cannot show)."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd(
        "Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Basic {token}"}}
    )


def screenshot(driver: Any, name: str, width: int) -> Path:
    """A full-page PNG of the current page laid out `width` CSS pixels wide (a phone at 390,
    a laptop at 1280), saved under artifacts/screenshots; the width is restored after."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    try:
        height = int(driver.execute_script("return document.documentElement.scrollHeight"))
        shot = driver.execute_cdp_cmd(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
            },
        )
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}-{width}px.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    SAVED.append(path)
    print(f"screenshot: {path}")
    return path


def layout_width(driver: Any, width: int) -> int:
    """The page's scroll width when laid out `width` CSS pixels wide (wider: it overflows)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    try:
        return int(driver.execute_script("return document.documentElement.scrollWidth"))
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def console_errors(driver: Any) -> list[str]:
    """The browser console's errors since the last call (CSP violations, failed loads)."""
    return [
        str(entry["message"]) for entry in driver.get_log("browser") if entry["level"] == "SEVERE"
    ]


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` until it holds; AssertionError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"{what}: not after {timeout}s")
