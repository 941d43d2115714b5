"""The exposition kept up to date as polls finish: each account's samples rendered once per
change, merged per block of accounts, so a scrape only strings cached pieces together."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from quota_watch.model import AccountStatus
from quota_watch.prometheus import names
from quota_watch.prometheus.body import Body
from quota_watch.prometheus.facts import AccountFacts, ForecastFacts, Snapshot
from quota_watch.prometheus.families import (
    add_build,
    add_cluster,
    add_daemon,
    add_delivery_counters,
    add_infos,
    add_intervals,
    add_poll_counters,
    add_pools,
    add_process,
    add_rate_limits,
    add_series,
    add_statuses,
    declare_poll_counters,
)
from quota_watch.prometheus.textformat import Exposition, Fragment, Section, section
from quota_watch.store.models import StoredReading

#: Accounts per block. A poll invalidates its block's merged sections (and their cached gzip
#: segments); the next scrape re-merges those. Smaller blocks re-merge and re-compress less
#: after a few polls, larger ones leave a scrape fewer pieces to string together.
BLOCK_ACCOUNTS = 32


@dataclass
class _AccountParts:
    """One account's pre-rendered samples, by the section of the exposition they go in."""

    interval: Fragment
    info: Fragment
    series: Fragment = field(default_factory=dict)
    status: Fragment = field(default_factory=dict)
    counters: Fragment = field(default_factory=dict)


class _Block:
    """A run of consecutive accounts (in name order) and their sections, merged when asked."""

    __slots__ = ("_merged", "accounts")

    def __init__(self, accounts: list[_AccountParts]) -> None:
        self.accounts = accounts
        self._merged: dict[str, Section] = {}

    def changed(self, *sections: str) -> None:
        """Forget the merged `sections` (an account of the block changed them)."""
        for name in sections:
            self._merged.pop(name, None)

    def merged(self, name: str) -> Section:
        """Section `name` of every account of the block, merged (cached until it changes)."""
        merged = self._merged.get(name)
        if merged is None:
            merged = section(getattr(p, name) for p in self.accounts)
            self._merged[name] = merged
        return merged


class LiveExposition:
    """The exposition kept up to date as polls finish: each account's samples are rendered when
    they change, so a scrape only concatenates them around the few daemon-wide families.

    Its output is byte for byte what `render` makes of the same facts.
    """

    def __init__(self) -> None:
        self._parts: dict[str, _AccountParts] = {}
        self._blocks: list[_Block] = []
        self._block_of: dict[str, _Block] = {}

    def set_accounts(self, accounts: Sequence[AccountFacts]) -> None:
        """The configured accounts (any order): their constant facts; others are dropped."""
        parts: dict[str, _AccountParts] = {}
        for a in sorted(accounts, key=lambda a: a.account):
            interval, info = Exposition(), Exposition()
            add_intervals(interval, [a])
            add_infos(info, [a])
            new = _AccountParts(interval=interval.fragment(), info=info.fragment())
            old = self._parts.get(a.account)
            if old is not None:
                new.series, new.status, new.counters = old.series, old.status, old.counters
            parts[a.account] = new
        self._parts = parts
        ordered = list(parts.items())
        self._blocks, self._block_of = [], {}
        for start in range(0, len(ordered), BLOCK_ACCOUNTS):
            run = ordered[start : start + BLOCK_ACCOUNTS]
            block = _Block([p for _, p in run])
            self._blocks.append(block)
            self._block_of.update((account, block) for account, _ in run)

    def set_series(
        self,
        account: str,
        readings: Sequence[StoredReading],
        forecasts: Mapping[tuple[str, str, str | None], ForecastFacts],
    ) -> None:
        """The newest reading of each series of `account`, in (limit, resource) order."""
        parts = self._parts.get(account)
        if parts is not None:
            out = Exposition()
            add_series(out, readings, forecasts)
            parts.series = out.fragment()
            self._block_of[account].changed("series")

    def set_status(self, status: AccountStatus) -> None:
        """The account's poll health after its latest poll."""
        parts = self._parts.get(status.account)
        if parts is not None:
            out, counters = Exposition(), Exposition()
            add_statuses(out, [status])
            add_poll_counters(counters, [status])
            parts.status, parts.counters = out.fragment(), counters.fragment()
            self._block_of[status.account].changed("status", "counters")

    def body(self, daemon: Snapshot, openmetrics: bool = False) -> Body:
        """The whole exposition; `daemon` gives the daemon-wide facts (its readings, statuses
        and accounts are not used: those come from the pre-rendered parts)."""
        blocks = self._blocks
        out = Exposition()
        for b in blocks:
            out.merge(b.merged("series"))
        for b in blocks:
            out.merge(b.merged("status"))
        add_rate_limits(out, daemon.rate_limits)
        add_pools(out, daemon)
        add_daemon(out, daemon)
        declare_poll_counters(out)
        for b in blocks:
            out.merge(b.merged("counters"))
        add_delivery_counters(out, daemon)
        add_process(out, daemon.process)
        for b in blocks:
            out.merge(b.merged("interval"))
        out.declare(names.ACCOUNT_INFO)
        for b in blocks:
            out.merge(b.merged("info"))
        add_build(out)
        add_cluster(out, daemon.cluster)
        return out.body(openmetrics)

    def text(self, daemon: Snapshot, openmetrics: bool = False) -> bytes:
        """The whole exposition as one bytes object."""
        return self.body(daemon, openmetrics).join()
