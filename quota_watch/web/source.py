"""What the status page reads from the running daemon: its store, accounts, rules and clock."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from quota_watch.store.sqlite_reader import ReadStore

if TYPE_CHECKING:
    from quota_watch.collect.runtime import AccountRuntime
    from quota_watch.engine.rulepack import RuleOverride, RulePack
    from quota_watch.model import Silence

__all__ = ["LiveSource", "PageStore"]


class PageStore(ReadStore, Protocol):
    """The report's read queries and the silences (the daemon's Store has both)."""

    async def list_silences(self, now: datetime, *, include_expired: bool = False) -> list[Silence]:
        """The silences in force at `now` (and the expired ones if asked)."""
        ...


@dataclass(frozen=True)
class LiveSource:
    """Callables into the daemon, read at each request so a SIGHUP reload shows at once."""

    store: Callable[[], PageStore | None]  # None until the store is open
    runtimes: Callable[[], Mapping[str, AccountRuntime]]
    pack: Callable[[], RulePack]
    overrides: Callable[[], Sequence[RuleOverride]]
    refresh: Callable[[], timedelta]
    clock: Callable[[], datetime]
