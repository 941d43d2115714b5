"""The work of the `report` and `history` commands, outside the CLI module: check the filters,
build the runtimes, read the store read-only, render."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from quota_watch.collect.runtime import AccountRuntime
    from quota_watch.config.load import AccountScope
    from quota_watch.config.settings import AccountConfig, AccountSettings, Config
    from quota_watch.reporting.entries import Entry
    from quota_watch.reporting.history import History
    from quota_watch.status.position import SeriesPosition
    from quota_watch.store.sqlite_reader import ReadStore

__all__ = [
    "ReportError",
    "ReportRequest",
    "account_runtimes",
    "choose",
    "display_units",
    "open_reader",
    "pool_runtimes",
    "read_entries",
    "read_history",
    "read_positions",
    "read_report",
    "render",
    "report_request",
    "report_scope",
    "sqlite_file",
    "utcnow",
    "wants_colour",
]


def utcnow() -> datetime:
    """The clock the report and history commands read (tests replace it)."""
    return datetime.now(UTC)


class ReportError(Exception):
    """Bad input to report or history: the message names the option and the valid values."""


def _values(given: Iterable[str] | None) -> list[str]:
    """The values of a repeatable option, each occurrence possibly a comma list."""
    chosen: list[str] = []
    for item in given or ():
        chosen.extend(v.strip() for v in item.split(",") if v.strip())
    return chosen


def choose(option: str, given: Iterable[str] | None, valid: Iterable[str]) -> list[str]:
    """The values of a repeatable option (each may be a comma list), checked against `valid`;
    ReportError naming the option and listing the valid values otherwise."""
    chosen = _values(given)
    known = list(dict.fromkeys(valid))
    unknown = [v for v in dict.fromkeys(chosen) if v not in known]
    if unknown:
        listed = ", ".join(known) if known else "none configured"
        raise ReportError(
            f"{option}: unknown value{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(map(repr, unknown))} (valid: {listed})"
        )
    return list(dict.fromkeys(chosen))


class _Account(Protocol):
    """What the filters look at: an account's settings or its validated config."""

    @property
    def name(self) -> str: ...
    @property
    def collector(self) -> str: ...
    @property
    def group(self) -> str | None: ...


@dataclass(frozen=True)
class ReportRequest:
    """The filters of one report run (empty: no filter)."""

    providers: Sequence[str] = ()
    accounts: Sequence[str] = ()
    groups: Sequence[str] = ()
    statuses: Sequence[str] = ()

    def selects(self, account: _Account) -> bool:
        """Whether `account` passes the provider, account and pool filters."""
        return (
            (not self.providers or account.collector in self.providers)
            and (not self.accounts or account.name in self.accounts)
            and (not self.groups or account.group in self.groups)
        )


def account_runtimes(
    config: Config, wanted: Callable[[AccountConfig], bool]
) -> dict[str, AccountRuntime]:
    """The runtimes of the configured accounts that `wanted` selects, with an offline client:
    the report never polls, and loads only the collectors those accounts use."""
    from quota_watch.collect.registry import discover
    from quota_watch.collect.runtime import OFFLINE_CLIENT, build_runtime

    chosen = [a for a in config.accounts if wanted(a)]
    infos = dict(config.collectors)  # loaded when the config was validated
    missing = {a.collector for a in chosen} - set(infos)
    if missing:
        infos.update(discover(missing))
    return {
        a.name: build_runtime(a, infos[a.collector], OFFLINE_CLIENT, secrets=False) for a in chosen
    }


def report_request(
    config: Config,
    providers: Iterable[str] | None,
    accounts: Iterable[str] | None,
    groups: Iterable[str] | None,
    statuses: Iterable[str] | None,
) -> ReportRequest:
    """The report's filters, each checked against the configured accounts (ReportError if
    not)."""
    from quota_watch.reporting.entries import STATUSES

    every = config.settings.accounts
    return ReportRequest(
        providers=choose("--provider", providers, sorted({a.collector for a in every})),
        accounts=choose("--account", accounts, [a.name for a in every]),
        groups=choose("--group", groups, sorted({a.group for a in every if a.group})),
        statuses=choose("--status", statuses, STATUSES),
    )


def report_scope(
    providers: Iterable[str] | None, accounts: Iterable[str] | None, groups: Iterable[str] | None
) -> AccountScope:
    """The accounts a report with these filters reads, for load_config: those the filters
    select and the other members of their pools (an unknown value selects nothing here;
    report_request then names it)."""
    request = ReportRequest(_values(providers), _values(accounts), _values(groups))

    def scope(every: Sequence[AccountSettings]) -> set[str]:
        pools = {a.group for a in every if a.group and request.selects(a)}
        return {a.name for a in every if request.selects(a) or a.group in pools}

    return scope


def pool_runtimes(
    config: Config, runtimes: Mapping[str, AccountRuntime]
) -> dict[str, AccountRuntime]:
    """The runtimes of the other members of the pools of `runtimes`: a pool is planned whole
    even when the report shows only some of its accounts."""
    pools = {rt.config.group for rt in runtimes.values() if rt.config.group}
    others = [a for a in config.accounts if a.group in pools and a.name not in runtimes]
    return account_runtimes(config, lambda a: a in others) if others else {}


def render(
    fmt: str,
    entries: Sequence[Entry],
    now: datetime,
    advice: Sequence[str] = (),
    *,
    colour: bool = False,
    width: int | None = None,
) -> str:
    """The report in `fmt` (table: fitted to `width`, the terminal's when None; in colour
    when `colour`, else plain text)."""
    from quota_watch.reporting import render as formats

    if fmt == "json":
        return formats.to_json(entries, advice)
    if fmt == "csv":
        return formats.to_csv(entries, advice)
    if fmt == "markdown":
        return formats.to_markdown(entries, now, advice).rstrip("\n")
    return formats.to_table(entries, now, advice, width=width, colour=colour)


def wants_colour(stream_isatty: bool, environ: Mapping[str, str]) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    return stream_isatty and not environ.get("NO_COLOR") and environ.get("TERM") != "dumb"


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite store URL, None for PostgreSQL."""
    from quota_watch.store.sqlite_reader import simple_sqlite_path

    path = simple_sqlite_path(url)
    if path is not None or not url.strip().lower().startswith("sqlite"):
        return path
    from quota_watch.store.urls import parse_database_url

    return parse_database_url(url).sqlite_path


async def open_reader(url: str) -> ReadStore:
    """A read-only view of the store at `url`: the sqlite3 reader for a plain SQLite URL
    (no SQLAlchemy import), else the Store (SQLite: read-only; PostgreSQL: without
    migrating)."""
    from quota_watch.store.sqlite_reader import SQLiteReader, simple_sqlite_path

    path = simple_sqlite_path(url)
    if path is not None:
        return SQLiteReader.open(path)
    from quota_watch.store.facade import Store

    return await Store.open(url, readonly=url.strip().startswith("sqlite"), migrate=False)


async def read_entries(
    url: str, config: Config, runtimes: Mapping[str, AccountRuntime], now: datetime
) -> list[Entry]:
    """Open the store read-only (safe beside the daemon) and gather the entries of
    `runtimes`."""
    from quota_watch.engine.rulepack import load_rule_pack
    from quota_watch.reporting.entries import gather_entries

    pack = load_rule_pack(config.settings.alerts.rule_pack)
    store = await open_reader(url)
    try:
        return await gather_entries(store, runtimes, pack, config.settings.rules, now)
    finally:
        await store.close()


async def read_report(
    url: str,
    config: Config,
    runtimes: Mapping[str, AccountRuntime],
    pool_runtimes: Mapping[str, AccountRuntime],
    now: datetime,
) -> tuple[list[Entry], list[str]]:
    """The entries of `runtimes` and the plan's advice lines, from one read of the store.

    `pool_runtimes` adds the other members of the pools of `runtimes`: a pool is planned
    whole even when the report shows only some of its accounts.
    """
    from quota_watch.engine.rulepack import load_rule_pack
    from quota_watch.reporting.view import report_view

    pack = load_rule_pack(config.settings.alerts.rule_pack)
    store = await open_reader(url)
    try:
        view = await report_view(store, runtimes, pool_runtimes, pack, config.settings.rules, now)
    finally:
        await store.close()
    return view.entries, view.advice


async def read_positions(
    url: str, config: Config, runtimes: Mapping[str, AccountRuntime], now: datetime
) -> list[SeriesPosition]:
    """Open the store read-only and load the positions of `runtimes` (for `plan`)."""
    from quota_watch.engine.rulepack import load_rule_pack
    from quota_watch.status.position import load_positions

    pack = load_rule_pack(config.settings.alerts.rule_pack)
    store = await open_reader(url)
    try:
        return await load_positions(store, runtimes, pack, config.settings.rules, now)
    finally:
        await store.close()


async def read_history(
    url: str,
    account: str,
    limit: str,
    resource: str | None,
    days: int,
    now: datetime,
    display_unit: str | None = None,
) -> History:
    """Open the store read-only and load one series' history (shown in `display_unit`)."""
    import dataclasses

    from quota_watch.reporting.history import load_history

    store = await open_reader(url)
    try:
        found = await load_history(store, account, limit, resource, days, now)
    finally:
        await store.close()
    return dataclasses.replace(found, display_unit=display_unit)


def display_units(runtimes: Mapping[str, AccountRuntime]) -> dict[tuple[str, str], str | None]:
    """(account, limit) -> the limit's display unit (limits.toml), for views without positions."""
    return {
        (name, limit): spec.display_unit
        for name, rt in runtimes.items()
        for limit, spec in rt.limits.items()
    }
