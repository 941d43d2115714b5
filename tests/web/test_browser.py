"""The status page in a real headless Chromium, served by a real daemon polling emulated
accounts on loopback: every limit shows, filters work with and without JavaScript, a status
change shows after a poll, basic auth refuses a stranger; screenshots at 390 and 1280 px."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest
import tomli_w

from quota_watch.sdk import Measure, Unit
from quota_watch.testing.emulator import EmulatedAccount, EmulatedLimit, Emulator, ManualClock
from tests.support.browser import (
    chromium,
    console_errors,
    layout_width,
    screenshot,
    send_basic_auth,
    wait_until,
)
from tests.support.daemon_proc import DaemonProcess, free_port

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


@dataclass
class Site:
    """The emulator, its clock, the daemon and a browser sending the credentials."""

    emulator: Emulator
    clock: ManualClock
    daemon: DaemonProcess
    driver: Any

    def open(self, query: str = "") -> None:
        self.driver.get(self.daemon.url + "/" + query)

    def status(self) -> int:
        """The HTTP status of the page the browser shows."""
        return int(
            self.driver.execute_script(
                "return performance.getEntriesByType('navigation')[0].responseStatus"
            )
        )

    def rows(self) -> dict[str, str]:
        """data-series -> data-status of the rows the browser shows now."""
        found = self.driver.execute_script(
            "return Array.from(document.querySelectorAll('tr[data-series]'))"
            ".map(r => [r.dataset.series, r.dataset.status])"
        )
        return {str(key): str(status) for key, status in found}


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
        with DaemonProcess(tmp_path, free_port(), config=config) as daemon, chromium() as driver:
            wait_until(lambda: ready(daemon), WAIT, "the daemon ready")
            yield Site(emulator, clock, daemon, driver)
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
        path = screenshot(site.driver, name, width)
        png = path.read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert int.from_bytes(png[16:20], "big") == width  # the IHDR width
        assert int.from_bytes(png[20:24], "big") > 600  # the whole page, not one screen


def authorised(site: Site) -> None:
    send_basic_auth(site.driver, USER, PASSWORD)


def test_a_stranger_is_refused_and_the_owner_let_in(site: Site) -> None:
    refused = httpx.get(site.daemon.url + "/", timeout=30)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Basic realm="quota-watch"'
    wrong = httpx.get(site.daemon.url + "/api/v1/report", auth=(USER, "guess"), timeout=30)
    assert wrong.status_code == 401
    # the browser without credentials gets the refusal (it would ask for a login), no data
    site.open()
    assert site.status() == 401
    assert "web-01" not in site.driver.page_source
    assert site.rows() == {}
    allowed = httpx.get(site.daemon.url + "/", auth=(USER, PASSWORD), timeout=30)
    assert allowed.status_code == 200 and "quota-watch" in allowed.text


def test_the_page_shows_every_limit_from_the_emulated_accounts(site: Site) -> None:
    authorised(site)
    console_errors(site.driver)  # forget the earlier tests' refusals

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
    text = site.driver.find_element("css selector", 'tr[data-series="web-01/storage"]').text
    assert "150" in text and "500" in text and "30.0%" in text  # whatever the display unit
    assert site.driver.find_element("css selector", 'tr[data-pool="edge"]')
    assert console_errors(site.driver) == []  # no CSP violation, every resource loaded
    # a phone lays the page out without sideways scrolling
    assert layout_width(site.driver, 390) <= 390
    site.open("?refresh=0")
    check_screenshots(site, "status-page")


def test_filters_work_with_the_form_and_in_the_address(site: Site) -> None:
    authorised(site)
    site.open("?provider=host")
    assert site.rows() and all(k.startswith("vm/") for k in site.rows())
    site.open("?group=edge")
    assert {k.split("/")[0] for k in site.rows()} == {"web-01", "web-02"}
    site.open("?status=warning")
    assert set(site.rows().values()) == {"warning"}
    # the form: ticking a box applies it (progressive enhancement submits on change)
    site.open()
    assert not site.driver.find_element("css selector", ".filters button").is_displayed()
    box = site.driver.find_element("css selector", 'input[name="provider"][value="http_json"]')
    box.click()
    wait_until(lambda: "provider=http_json" in site.driver.current_url, WAIT, "form submitted")
    wait_until(lambda: bool(site.rows()), WAIT, "rows after the filter")
    assert not any(k.startswith("vm/") for k in site.rows())
    checked = site.driver.find_element(
        "css selector", 'input[name="provider"][value="http_json"]'
    ).is_selected()
    assert checked


def test_the_form_works_with_javascript_off(site: Site) -> None:
    with chromium(javascript=False) as driver:
        send_basic_auth(driver, USER, PASSWORD)
        driver.get(site.daemon.url + "/?refresh=0")
        form = driver.find_element("id", "filters")
        assert "live" not in (form.get_attribute("class") or "")  # page.js did not run
        button = driver.find_element("css selector", ".filters button[type=submit]")
        assert button.is_displayed()  # the script would hide it; here it is the way to apply
        driver.find_element("css selector", 'input[name="group"][value="edge"]').click()
        assert "group=" not in driver.current_url  # nothing happens until Apply
        button.click()
        wait_until(lambda: "group=edge" in driver.current_url, WAIT, "the form submitted")
        shown = [
            str(row.get_attribute("data-series"))
            for row in driver.find_elements("css selector", "tr[data-series]")
        ]
        assert shown and {k.split("/")[0] for k in shown} == {"web-01", "web-02"}
        assert "refresh=0" in driver.current_url  # the hidden field kept the viewer's choice


def test_a_status_change_shows_after_the_next_poll(site: Site) -> None:
    authorised(site)
    site.open("?refresh=1")  # the page reloads itself every second; nobody touches it after
    assert site.rows()["web-01/requests"] == "ok"
    site.clock.advance(hours=9)  # the emulator now serves 100 000 of 100 000 requests

    from selenium.common.exceptions import WebDriverException  # after the skip check

    def critical() -> bool:
        try:
            return site.rows().get("web-01/requests") == "critical"
        except WebDriverException:  # caught mid-reload
            return False

    wait_until(critical, WAIT, "web-01/requests critical on the self-refreshing page")
    site.open("?refresh=0")
    row = site.driver.find_element("css selector", 'tr[data-series="web-01/requests"]').text
    assert "100.0%" in row
    title = site.driver.title
    assert "critical ·" in title, title

    def alert_listed() -> bool:
        site.open("?refresh=0")
        return bool(site.driver.find_elements("css selector", "li[data-alert]"))

    wait_until(alert_listed, WAIT, "the firing alert on the page")
    check_screenshots(site, "status-page-after-change")
