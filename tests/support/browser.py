"""A real headless Chromium for page tests (Playwright driving Debian's chromium): skip when
absent, fail when QUOTA_WATCH_REQUIRE_BROWSER is set; screenshots at a given width."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
"""Where the page tests save screenshots (gitignored; CI keeps the directory)."""

_CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT_MS = 60_000
"""Playwright's limit for a navigation or an action (generous: the machine may be loaded)."""

SAVED: list[Path] = []
"""The screenshots saved in this session (tests/web/conftest.py lists them at the end)."""


def _missing(what: str) -> None:
    message = f"{what} not found (the browser tests need Debian's chromium and Playwright)"
    if os.environ.get("QUOTA_WATCH_REQUIRE_BROWSER"):
        pytest.fail(f"{message} but QUOTA_WATCH_REQUIRE_BROWSER is set")
    pytest.skip(message)


def browser_path() -> str:
    """The system Chromium's path, or skip (fail when the CI said it must be there)."""
    chromium = next((p for p in map(shutil.which, _CHROMIUM) if p), None)
    if chromium is None:
        _missing("chromium")
    assert chromium is not None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("playwright (pip install -e '.[dev]')")
    return chromium


@contextmanager
def chromium() -> Iterator[Browser]:
    """The system Chromium, headless, under Playwright; closed after. Playwright's own browser
    download is never used: it would need the internet."""
    binary = browser_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=binary,
            headless=True,
            timeout=TIMEOUT_MS,
            args=[
                "--disable-dev-shm-usage",
                "--disable-gpu",
                "--no-first-run",
                "--window-size=1280,900",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Tab:
    """A page in its own browser context, and what its console reported as errors."""

    page: Page
    errors: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        """Keep console errors: CSP violations, failed loads, console.error calls."""
        if message.type == "error":
            self.errors.append(message.text)

    def on_page_error(self, error: Exception) -> None:
        """Keep uncaught script exceptions."""
        self.errors.append(f"uncaught: {error}")


@contextmanager
def tab(
    browser: Browser, *, credentials: tuple[str, str] | None = None, javascript: bool = True
) -> Iterator[Tab]:
    """A fresh context (no cookies, no cache) with one page, laid out 1280 px wide as the
    window is; `credentials` are sent with every request (as a browser does after the login
    prompt, which headless Chromium cannot show); JavaScript off when asked."""
    context = browser.new_context(
        no_viewport=True,  # the window's size, so that width overrides can be cleared
        java_script_enabled=javascript,
        http_credentials=(
            None
            if credentials is None
            else {"username": credentials[0], "password": credentials[1], "send": "always"}
        ),
    )
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        opened = Tab(page)
        page.on("console", opened.on_console)
        page.on("pageerror", opened.on_page_error)
        yield opened
    finally:
        context.close()


def console_errors(opened: Tab) -> list[str]:
    """The console's errors since the last call (CSP violations, failed loads, exceptions)."""
    found = list(opened.errors)
    opened.errors.clear()
    return found


@contextmanager
def _laid_out(page: Page, width: int) -> Iterator[None]:
    """The page laid out `width` CSS pixels wide, as a phone below 600 px; the window's size
    again after. Playwright sets mobile emulation per context only: this is Chromium's own
    override, through Playwright's CDP session."""
    session = page.context.new_cdp_session(page)
    session.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    try:
        yield
    finally:
        session.send("Emulation.clearDeviceMetricsOverride")
        session.detach()


def screenshot(page: Page, name: str, width: int) -> Path:
    """A full-page PNG of the current page laid out `width` CSS pixels wide (a phone at 390,
    a laptop at 1280), saved under artifacts/screenshots; the width is restored after."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}-{width}px.png"
    with _laid_out(page, width):
        page.screenshot(path=path, full_page=True)
    SAVED.append(path)
    print(f"screenshot: {path}")
    return path


def layout_width(page: Page, width: int) -> int:
    """The page's scroll width when laid out `width` CSS pixels wide (wider: it overflows)."""
    with _laid_out(page, width):
        return int(page.evaluate("document.documentElement.scrollWidth"))
