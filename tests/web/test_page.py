"""The status page and its JSON API in process, on the report tests' site: the API is the CLI's
JSON, the page shows every series with the report's cells, filters, silences, auth, escaping."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from quota_watch.cli.app import app as cli
from quota_watch.daemon.auth import BasicAuth
from quota_watch.daemon.server import create_app
from quota_watch.engine.rulepack import load_rule_pack
from quota_watch.notify.silences import new_silence
from quota_watch.prometheus.exposition import Snapshot
from quota_watch.reporting import command
from quota_watch.reporting.entries import gather_entries
from quota_watch.reporting.render import cells
from quota_watch.store.facade import Store
from quota_watch.store.models import StoreError
from quota_watch.web.routes import accepts_gzip
from quota_watch.web.source import LiveSource
from tests.support import report_site
from tests.support.report_site import NOW, Site

site_template = report_site.site_template  # the fixtures, shared
site = report_site.site
runner = CliRunner()


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(command, "utcnow", lambda: NOW)


@dataclass
class Served:
    """The daemon's ASGI app over the site's store, and that store."""

    client: httpx.AsyncClient
    store: Store
    source: LiveSource


async def _snapshot() -> Snapshot:
    raise AssertionError("the page never reads the metrics snapshot")


def _source(site: Site, store: Store | None) -> LiveSource:
    config = site.config()
    runtimes = command.account_runtimes(config, lambda _a: True)
    pack = load_rule_pack(config.settings.alerts.rule_pack)
    return LiveSource(
        store=lambda: store,
        runtimes=lambda: runtimes,
        pack=lambda: pack,
        overrides=lambda: config.settings.rules,
        refresh=lambda: timedelta(minutes=1),
        clock=lambda: NOW,
    )


@pytest.fixture
async def served(site: Site) -> AsyncIterator[Served]:
    store = await Store.open(site.store_url)
    source = _source(site, store)
    app = create_app(_snapshot, lambda: None, None, source)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://page") as client:
            yield Served(client, store, source)
    finally:
        await store.close()


async def cli_json(site: Site, *args: str) -> Any:
    """The CLI's JSON (in a thread: the CLI runs its own event loop)."""
    argv = [*args, "-f", "json", "-c", str(site.config_path)]
    result = await asyncio.to_thread(runner.invoke, cli, argv)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


class Rows(HTMLParser):
    """The page's series rows: data-series -> its attributes and the text of each cell."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, dict[str, Any]] = {}
        self._row: dict[str, Any] | None = None
        self._label: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr" and found.get("data-series"):
            self._row = {"attrs": found, "cells": {}}
            self.rows[str(found["data-series"])] = self._row
        elif tag == "td" and self._row is not None:
            self._label = found.get("data-label")
            self._row["cells"][self._label] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._row = None
        if tag == "td":
            self._label = None

    def handle_data(self, data: str) -> None:
        if self._row is not None and self._label is not None:
            self._row["cells"][self._label] += data


def page_rows(html: str) -> dict[str, dict[str, Any]]:
    parser = Rows()
    parser.feed(html)
    return parser.rows


def key_of(record: dict[str, Any]) -> str:
    return "/".join(p for p in (record["account"], record["limit"], record["resource"]) if p)


def squash(text: str) -> str:
    return " ".join(text.split())


# --- the JSON API is the CLI's JSON ------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "args"),
    [
        ("", ()),
        ("?group=edge&status=critical,warning", ("-g", "edge", "-s", "critical,warning")),
        ("?provider=http_json&account=gh&account=old", ("-p", "http_json", "-a", "gh,old")),
    ],
)
async def test_api_report_is_the_cli_json(
    served: Served, site: Site, query: str, args: tuple[str, ...]
) -> None:
    response = await served.client.get("/api/v1/report" + query)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    expected = await cli_json(site, "report", *args)
    assert expected, "the site has rows for every filter used here"
    assert response.json() == expected


@pytest.mark.parametrize(("query", "args"), [("", ()), ("?group=edge", ("--group", "edge"))])
async def test_api_plan_is_the_cli_json(
    served: Served, site: Site, query: str, args: tuple[str, ...]
) -> None:
    response = await served.client.get("/api/v1/plan" + query)
    assert response.status_code == 200
    assert response.json() == await cli_json(site, "plan", *args)


async def test_api_names_a_bad_filter(served: Served) -> None:
    response = await served.client.get("/api/v1/report?status=fine")
    assert response.status_code == 400
    assert response.json() == {
        "error": "status: unknown value 'fine' (valid: critical, warning, stale, unknown, ok)"
    }
    response = await served.client.get("/api/v1/plan?group=nope")
    assert response.status_code == 400
    assert response.json() == {"error": "group: unknown value 'nope' (valid: edge)"}


# --- the page ----------------------------------------------------------------------------------


async def test_page_shows_every_series_with_the_report_cells(served: Served, site: Site) -> None:
    response = await served.client.get("/")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    rows = page_rows(response.text)
    config = site.config()
    runtimes = command.account_runtimes(config, lambda _a: True)
    entries = await gather_entries(
        served.store, runtimes, served.source.pack(), config.settings.rules, NOW
    )
    assert set(rows) == {key_of(e.row.__dict__) for e in entries}
    statuses = {e.row.status for e in entries}
    assert {"critical", "warning", "stale", "ok"} <= statuses  # the site has every status
    for entry in entries:
        row = rows[key_of(entry.row.__dict__)]
        expected = cells(entry, NOW)
        assert row["attrs"]["data-status"] == entry.row.status
        assert squash(row["cells"]["Used / cap"]) == expected["used"]
        assert expected["use"] in row["cells"]["Usage"]
        assert squash(row["cells"]["Resets"]) == expected["resets"]
        assert squash(row["cells"]["Full"]) == expected["full"]
        assert squash(row["cells"]["Forecast"]).startswith(expected["forecast"])
    # riskiest first, as the report orders them
    order = [key for key in rows]
    assert order[0] == key_of(entries[0].row.__dict__)
    # a sparkline per series with readings on more than one day
    assert response.text.count('<svg class="spark') == len(entries)


async def test_page_shows_alerts_pools_and_the_report_advice(served: Served, site: Site) -> None:
    html = (await served.client.get("/")).text
    firing = [a for a in await served.store.load_alerts() if a.status == "firing"]
    assert firing, "the site has firing alerts"
    for alert in firing:
        assert f'data-alert="{alert.alertname}"' in html
    assert 'data-pool="edge"' in html
    config = site.config()
    runtimes = command.account_runtimes(config, lambda _a: True)
    _entries, advice = await command.read_report(site.store_url, config, runtimes, {}, NOW)
    assert advice, "the site has advice"
    listed = html.split('class="advice-list"', 1)[1]
    shown = [squash(unescape(item)) for item in re.findall(r"<li>(.*?)</li>", listed, re.S)]
    assert shown == [squash(line) for line in advice]


async def test_filters_are_query_parameters(served: Served) -> None:
    rows = page_rows((await served.client.get("/?status=critical&status=warning")).text)
    assert rows and {r["attrs"]["data-status"] for r in rows.values()} <= {"critical", "warning"}
    rows = page_rows((await served.client.get("/?group=edge")).text)
    assert rows and {k.split("/")[0] for k in rows} == {"cf-main", "cf-spare"}
    html = (await served.client.get("/?group=edge&status=ok")).text
    # the form shows what is chosen, so it works without JavaScript
    assert re.search(r'name="group" value="edge" checked', html)
    assert re.search(r'name="status" value="ok" checked', html)
    assert not re.search(r'name="status" value="critical" checked', html)


async def test_a_bad_filter_is_a_400_page_that_escapes_the_value(served: Served) -> None:
    response = await served.client.get("/", params={"provider": "<script>alert(1)</script>"})
    assert response.status_code == 400
    assert "<script>alert" not in response.text
    assert "provider: unknown value" in response.text
    assert "&lt;script&gt;" in response.text


async def test_a_silenced_series_is_marked(served: Served) -> None:
    before = page_rows((await served.client.get("/")).text)
    assert not any("data-silenced" in r["attrs"] for r in before.values())
    silence = new_silence({"account": "gh"}, timedelta(hours=2), "planned build storm", NOW)
    added = await served.store.add_silence(silence)
    html = (await served.client.get("/")).text
    after = page_rows(html)
    marked = {k for k, r in after.items() if "data-silenced" in r["attrs"]}
    assert marked == {k for k in after if k.startswith("gh/")}
    assert f'data-silence="{added.id}"' in html and "planned build storm" in html


async def test_refresh_is_configurable(served: Served) -> None:
    html = (await served.client.get("/")).text
    assert '<meta http-equiv="refresh" content="60">' in html
    html = (await served.client.get("/?refresh=0&status=ok")).text
    assert 'http-equiv="refresh"' not in html
    assert '<input type="hidden" name="refresh" value="0">' in html  # kept by the form
    html = (await served.client.get("/?refresh=15")).text
    assert '<meta http-equiv="refresh" content="15">' in html
    html = (await served.client.get("/?refresh=soon")).text  # not seconds: the default
    assert '<meta http-equiv="refresh" content="60">' in html


async def test_the_stylesheet_and_script_are_served(served: Served) -> None:
    css = await served.client.get("/static/page.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "@media (max-width" in css.text
    js = await served.client.get("/static/page.js")
    assert js.status_code == 200 and "text/javascript" in js.headers["content-type"]


async def test_not_ready_until_the_store_is_open(site: Site) -> None:
    app = create_app(_snapshot, lambda: None, None, _source(site, None))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://page"
    ) as client:
        page = await client.get("/")
        assert page.status_code == 503 and page.headers["retry-after"] == "5"
        assert "not open yet" in page.text
        assert (await client.get("/api/v1/report")).status_code == 503
        assert (await client.get("/api/v1/plan")).status_code == 503


async def test_basic_auth_guards_the_page_and_api(site: Site) -> None:
    store = await Store.open(site.store_url)
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode()
    auth = BasicAuth(lambda: {"ops": SecretStr(hashed)})
    app = create_app(_snapshot, lambda: None, auth, _source(site, store))
    good = "Basic " + base64.b64encode(b"ops:pw").decode()
    bad = "Basic " + base64.b64encode(b"ops:nope").decode()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://page"
        ) as client:
            for path in ("/", "/api/v1/report", "/api/v1/plan", "/static/page.css"):
                for header in ({}, {"Authorization": bad}):
                    refused = await client.get(path, headers=header)
                    assert refused.status_code == 401, path
                    assert refused.headers["www-authenticate"] == 'Basic realm="quota-watch"'
                    assert "cf-main" not in refused.text
                allowed = await client.get(path, headers={"Authorization": good})
                assert allowed.status_code == 200, path
    finally:
        await store.close()


async def test_the_page_is_gzipped_when_the_client_accepts_it(served: Served) -> None:
    plain = await served.client.get("/", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    packed = await served.client.get("/", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["vary"] == "Accept-Encoding"
    assert int(packed.headers["content-length"]) * 4 < len(plain.content)
    assert packed.text == plain.text  # httpx inflates it
    refused = await served.client.get("/api/v1/report", headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, False),
        ("", False),
        ("gzip", True),
        ("br, gzip, deflate", True),
        ("GZIP;q=0.5", True),
        ("gzip;q=0", False),
        ("*", True),
        ("deflate, br", False),
        ("gzip;q=x", False),
    ],
)
def test_accept_encoding(header: str | None, expected: bool) -> None:
    assert accepts_gzip(header) is expected


async def test_the_api_is_the_cli_json_on_each_backend(tmp_path: Path, store_url: str) -> None:
    built = await report_site.build_site(tmp_path, store_url)
    store = await Store.open(built.store_url)
    app = create_app(_snapshot, lambda: None, None, _source(built, store))
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://page"
        ) as client:
            report = await client.get("/api/v1/report?status=critical,warning,stale")
            assert report.json() == await cli_json(built, "report", "-s", "critical,warning,stale")
            plan = await client.get("/api/v1/plan")
            assert plan.json() == await cli_json(built, "plan")
            page = await client.get("/")
            assert set(page_rows(page.text)) == {key_of(r) for r in await cli_json(built, "report")}
    finally:
        await store.close()


class FailingStore:
    """The site's store whose reads of the latest readings fail, as a locked database does."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def latest(self, **_kwargs: Any) -> list[Any]:
        raise StoreError("reading the latest readings: database is locked")


async def test_a_failing_store_is_a_503_and_a_log_line(
    served: Served, site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    failing = FailingStore(served.store)
    source = replace(served.source, store=lambda: failing)
    app = create_app(_snapshot, lambda: None, None, source)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://page"
    ) as client:
        page = await client.get("/")
        assert page.status_code == 503 and page.headers["retry-after"] == "5"
        assert "the store could not be read" in page.text and "locked" not in page.text
        api = await client.get("/api/v1/report")
        assert api.status_code == 503
        assert api.json() == {"error": "the store could not be read (see the daemon's log)"}
    assert "/: reading the store: reading the latest readings: database is locked" in caplog.text
