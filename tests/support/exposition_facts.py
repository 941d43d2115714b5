"""A synthetic exposition large enough for several blocks and chunks, fed as polls would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from quota_watch.model import AccountStatus
from quota_watch.prometheus.exposition import (
    AccountFacts,
    ForecastFacts,
    LiveExposition,
    Snapshot,
)
from quota_watch.store.models import StoredReading

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
LIMITS = (("requests", "count"), ("storage", "bytes"), ("cpu_time", "seconds"))


def reading(account: str, limit: str, unit: str, value: float) -> StoredReading:
    """One limit's reading with cap and period bounds."""
    return StoredReading(
        provider="http_json",
        account=account,
        limit=limit,
        resource=None,
        unit=unit,
        measure="level",
        value=value,
        cap=value * 4,
        cap_source="catalogue",
        period_start=NOW - timedelta(days=3),
        period_end=NOW + timedelta(days=27),
        ts=NOW,
    )


def status(account: str, runs: int) -> AccountStatus:
    """A successful poll's status."""
    return AccountStatus("http_json", account, NOW, NOW, "success", None, 0.2, runs, 1, 0)


class Facts:
    """Accounts enough for several blocks, fed to a LiveExposition as polls would."""

    def __init__(self, accounts: int) -> None:
        self.accounts = [
            AccountFacts("http_json", f"acct-{i:04d}", None, 60.0) for i in range(accounts)
        ]
        self.readings = {
            a.account: [reading(a.account, lim, unit, 1.5 * (i + 1)) for lim, unit in LIMITS]
            for i, a in enumerate(self.accounts)
        }
        self.forecasts: dict[tuple[str, str, str | None], ForecastFacts] = {
            (a.account, "requests", None): ForecastFacts(0.5, None, 60.0) for a in self.accounts
        }
        self.statuses = {a.account: status(a.account, 10) for a in self.accounts}
        self.live = LiveExposition()
        self.live.set_accounts(self.accounts)
        for account in self.readings:
            self.poll(account)

    def poll(self, account: str) -> None:
        """Feed `account`'s readings and status, as its poll would."""
        self.live.set_series(account, self.readings[account], self.forecasts)
        self.live.set_status(self.statuses[account])

    def snapshot(self, live: bool) -> Snapshot:
        """The daemon's snapshot (`live`), or the same facts for render() to use."""
        every = [r for account in sorted(self.readings) for r in self.readings[account]]
        return Snapshot(
            readings=() if live else every,
            statuses=() if live else list(self.statuses.values()),
            accounts=() if live else self.accounts,
            forecasts={} if live else self.forecasts,
            outbox_depth={"ops": 1},
            process={"process_resident_memory_bytes": 5e7},
            live=self.live if live else None,
        )
