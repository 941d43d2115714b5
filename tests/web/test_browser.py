"""The status page in a real headless Chromium, served by a real daemon polling emulated
accounts on loopback: every limit shows, filters work with and without JavaScript, a status
change shows after a poll, basic auth refuses a stranger; screenshots at 390 and 1280 px."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import bcrypt
import httpx
import pytest
import tomli_w

from quota_watch.sdk import Measure, Unit
from quota_watch.testing.emulator import EmulatedAccount, EmulatedLimit, Emulator, ManualClock
from tests.support.browser import (
    Tab,
    chromium,
    console_errors,
    layout_width,
    screenshot,
    tab,
)
from tests.support.daemon_proc import DaemonProcess, free_port
from tests.support.waiting import wait_until

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Response

pytestmark = pytest.mark.slow

USER, PASSWORD = "ops", "correct horse battery"
POLL = "2s"
WAIT = 90.0  # seconds: generous, the machine may be loaded

ACCOUNTS = [
    EmulatedAccount(
        "web-01",
        "token-web-01",
        {
            # 10 % now; advancing the emulator's clock 9 h fills it (the status change)
            "requests": EmulatedLimit(10_000, 10_000, cap=100_000, title="Requests per day"),
            "storage": EmulatedLimit(
                150e6,
                0,
                cap=500e6,
                unit=Unit.BYTES,
                measure=Measure.LEVEL,
                period="none",
                title="Stored bytes",
            ),
        },
    ),
    EmulatedAccount(
        "web-02",
        "token-web-02",
        {"requests": EmulatedLimit(85_000, 0, cap=100_000, title="Requests per day")},
    ),
    EmulatedAccount(
        "web-03",
        "token-web-03",
        {"requests": EmulatedLimit(100_000, 0, cap=100_000, title="Requests per day")},
    ),
    EmulatedAccount(
        "jobs",
        "token-jobs",
        {
            "worker_requests": EmulatedLimit(
                1_000, 0, cap=50_000, resources=["api", "web"], title="Requests per worker"
            )
        },
    ),
]
EMULATED = {
    "web-01/requests",
    "web-01/storage",
    "web-02/requests",
    "web-03/requests",
    "jobs/worker_requests/api",
    "jobs/worker_requests/web",
}


def navigate(opened: Tab, url: str) -> Response:
    """Go to `url`; the answer to that navigation, a refusal included (headless Chromium cannot
    show the login prompt: without credentials it gives up after the 401 and shows a blank
    error page)."""
    from playwright.sync_api import Error  # after the skip check

    page = opened.page
    with page.expect_response(
        lambda r: r.request.is_navigation_request() and r.frame == page.main_frame
    ) as answer:
        try:
            page.goto(url)
        except Error as exc:
            if "ERR_INVALID_AUTH_CREDENTIALS" not in exc.message:
                raise
    return answer.value


def rows(opened: Tab) -> dict[str, str]:
    """data-series -> data-status of the rows the page shows now."""
    found = opened.page.locator("tr[data-series]").evaluate_all(
        "rows => rows.map(r => [r.dataset.series, r.dataset.status])"
    )
    return {str(key): str(status) for key, status in found}


@dataclass
class Site:
    """The emulator, its clock, the daemon, the browser and a page sending the credentials."""

    emulator: Emulator
    clock: ManualClock
    daemon: DaemonProcess
    browser: Browser
    owner: Tab

    def open(self, query: str = "") -> int:
        """Show the page (with `query`) to the owner; the HTTP status of its answer."""
        return navigate(self.owner, self.daemon.url + "/" + query).status

    def rows(self) -> dict[str, str]:
        """data-series -> data-status of the rows the owner's page shows now."""
        return rows(self.owner)


def write_config(path: Path, emulator: Emulator, db: Path) -> None:
    pooled = tomllib.loads(emulator.config_toml(["web-01", "web-02"], interval=POLL, group="edge"))
    alone = tomllib.loads(emulator.config_toml(["jobs", "web-03"], interval=POLL))
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    document = {
        "server": {"basic_auth_users": {USER: hashed}},
        "store": {"url": f"sqlite:///{db}"},
        "accounts": [
            *pooled["accounts"],
            *alone["accounts"],
            {"name": "vm", "collector": "host", "interval": "1h"},
        ],
    }
    path.write_text(tomli_w.dumps(document))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp_path = tmp_path_factory.mktemp("page")
    clock = ManualClock()
    with Emulator(ACCOUNTS, clock=clock, seed=3) as emulator:
        config = tmp_path / "quota-watch.toml"
        write_config(config, emulator, tmp_path / "qw.db")
        with (
            DaemonProcess(tmp_path, free_port(), config=config) as daemon,
            chromium() as browser,
            tab(browser, credentials=(USER, PASSWORD)) as owner,
        ):
            wait_until(lambda: ready(daemon), WAIT, "the daemon ready")
            yield Site(emulator, clock, daemon, browser, owner)
            assert daemon.stop() == 0, daemon.log()


def ready(daemon: DaemonProcess) -> bool:
    daemon.check_alive()
    try:
        answer = httpx.get(daemon.url + "/readyz", auth=(USER, PASSWORD), timeout=10)
    except httpx.HTTPError:
        return False
    return answer.status_code == 200


def check_screenshots(site: Site, name: str) -> None:
    """Full-page screenshots at phone and laptop widths, checked to be PNGs of that width."""
    for width in (390, 1280):
        path = screenshot(site.owner.page, name, width)
        png = path.read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert int.from_bytes(png[16:20], "big") == width  # the IHDR width
        assert int.from_bytes(png[20:24], "big") > 600  # the whole page, not one screen


def test_a_stranger_is_refused_and_the_owner_let_in(site: Site) -> None:
    refused = httpx.get(site.daemon.url + "/", timeout=30)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Basic realm="quota-watch"'
    wrong = httpx.get(site.daemon.url + "/api/v1/report", auth=(USER, "guess"), timeout=30)
    assert wrong.status_code == 401
    # the browser without credentials gets the refusal (it would ask for a login), no data
    with tab(site.browser) as stranger:
        answer = navigate(stranger, site.daemon.url + "/")
        assert answer.status == 401
        assert answer.headers["www-authenticate"] == 'Basic realm="quota-watch"'
        assert "web-01" not in stranger.page.locator("html").inner_html()  # waits past loading
        assert rows(stranger) == {}
    allowed = httpx.get(site.daemon.url + "/", auth=(USER, PASSWORD), timeout=30)
    assert allowed.status_code == 200 and "quota-watch" in allowed.text


def test_the_page_shows_every_limit_from_the_emulated_accounts(site: Site) -> None:
    console_errors(site.owner)  # forget what earlier tests' pages reported

    def every_limit() -> bool:
        site.open()
        shown = site.rows()
        return set(shown) >= EMULATED and any(k.startswith("vm/") for k in shown)

    wait_until(every_limit, WAIT, "every emulated limit and the host on the page")
    api = httpx.get(site.daemon.url + "/api/v1/report", auth=(USER, PASSWORD), timeout=30)
    listed = {
        "/".join(p for p in (r["account"], r["limit"], r["resource"]) if p) for r in api.json()
    }
    assert set(site.rows()) == listed  # the page and the API agree
    rows = site.rows()
    assert rows["web-01/requests"] == "ok"
    assert rows["web-02/requests"] == "warning"  # 85 % of the cap
    assert rows["web-03/requests"] == "critical"  # full
    page = site.owner.page
    text = page.locator('tr[data-series="web-01/storage"]').inner_text()
    assert "150" in text and "500" in text and "30.0%" in text  # whatever the display unit
    assert page.locator('tr[data-pool="edge"]').count() >= 1
    assert console_errors(site.owner) == []  # no CSP violation, every resource loaded
    # a phone lays the page out without sideways scrolling
    assert layout_width(page, 390) <= 390
    site.open("?refresh=0")
    check_screenshots(site, "status-page")


def test_filters_work_with_the_form_and_in_the_address(site: Site) -> None:
    page = site.owner.page
    site.open("?provider=host")
    assert site.rows() and all(k.startswith("vm/") for k in site.rows())
    site.open("?group=edge")
    assert {k.split("/")[0] for k in site.rows()} == {"web-01", "web-02"}
    site.open("?status=warning")
    assert set(site.rows().values()) == {"warning"}
    # the form: ticking a box applies it (progressive enhancement submits on change)
    assert site.open() == 200
    assert page.locator(".filters button").is_hidden()
    box = page.locator('input[name="provider"][value="http_json"]')
    box.click()
    page.wait_for_url(lambda url: "provider=http_json" in url, timeout=WAIT * 1000)
    wait_until(lambda: bool(site.rows()), WAIT, "rows after the filter")
    assert not any(k.startswith("vm/") for k in site.rows())
    assert page.locator('input[name="provider"][value="http_json"]').is_checked()


def test_the_form_works_with_javascript_off(site: Site) -> None:
    with tab(site.browser, credentials=(USER, PASSWORD), javascript=False) as bare:
        page = bare.page
        assert navigate(bare, site.daemon.url + "/?refresh=0").status == 200
        form = page.locator("#filters")
        assert "live" not in (form.get_attribute("class") or "")  # page.js did not run
        button = page.locator(".filters button[type=submit]")
        assert button.is_visible()  # the script would hide it; here it is the way to apply
        page.locator('input[name="group"][value="edge"]').click()
        assert "group=" not in page.url  # nothing happens until Apply
        button.click()
        page.wait_for_url(lambda url: "group=edge" in url, timeout=WAIT * 1000)
        shown = [
            str(row.get_attribute("data-series")) for row in page.locator("tr[data-series]").all()
        ]
        assert shown and {k.split("/")[0] for k in shown} == {"web-01", "web-02"}
        assert "refresh=0" in page.url  # the hidden field kept the viewer's choice
        assert console_errors(bare) == []


def test_a_status_change_shows_after_the_next_poll(site: Site) -> None:
    page = site.owner.page
    site.open("?refresh=1")  # the page reloads itself every second; nobody touches it after
    assert site.rows()["web-01/requests"] == "ok"
    site.clock.advance(hours=9)  # the emulator now serves 100 000 of 100 000 requests

    from playwright.sync_api import Error  # after the skip check

    def critical() -> bool:
        try:
            return site.rows().get("web-01/requests") == "critical"
        except Error:  # caught mid-reload
            return False

    wait_until(critical, WAIT, "web-01/requests critical on the self-refreshing page")
    site.open("?refresh=0")
    row = page.locator('tr[data-series="web-01/requests"]').inner_text()
    assert "100.0%" in row
    title = page.title()
    assert "critical ·" in title, title

    def alert_listed() -> bool:
        site.open("?refresh=0")
        return page.locator("li[data-alert]").count() > 0

    wait_until(alert_listed, WAIT, "the firing alert on the page")
    check_screenshots(site, "status-page-after-change")
