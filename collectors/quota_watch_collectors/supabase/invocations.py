"""Edge Function invocations over a billing cycle, added up from 1-day log windows.

The Free plan keeps logs for one day, so the cycle total cannot be read at once: each poll
counts the rows of the `function_edge_logs` source since the previous poll and adds them to a
per-project tally kept in the account's state. A tally is *complete* when every instant since
the cycle started (or the project was created) was counted; an org's total is reported only
when every tally of the org is complete, so a total that misses days is never shown.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from quota_watch_collectors.supabase.models import parse_timestamp

__all__ = ["LOG_RETENTION", "Plan", "Status", "Tally", "plan_window"]

#: Free-plan log retention (supabase/supabase packages/shared-data/plans.ts: "1 day").
LOG_RETENTION = timedelta(days=1)


class Status(Enum):
    """What a project's status means for counting."""

    RUNNING = "running"  # serving requests: count its logs
    PAUSED = "paused"  # INACTIVE: serves nothing
    OTHER = "other"  # coming up, restoring, failed...: wait for the next poll


@dataclass(frozen=True)
class Tally:
    """Invocations of one project counted in [cycle_start, counted_until)."""

    org: str
    cycle_start: datetime
    counted_until: datetime
    count: int
    complete: bool
    paused: bool = False

    def to_json(self) -> dict[str, Any]:
        """The JSON-able form kept in ctx.state."""
        return {
            "org": self.org,
            "cycle_start": self.cycle_start.isoformat(),
            "counted_until": self.counted_until.isoformat(),
            "count": self.count,
            "complete": self.complete,
            "paused": self.paused,
        }

    @classmethod
    def from_json(cls, data: Any) -> Tally | None:
        """A tally read back from state; None for anything unreadable (it is then recounted)."""
        if not isinstance(data, dict):
            return None
        count = data.get("count")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            return None
        try:
            cycle_start = parse_timestamp(data["cycle_start"])
            counted_until = parse_timestamp(data["counted_until"])
        except (KeyError, TypeError, ValueError, OverflowError, OSError):
            return None
        if not isinstance(cycle_start, datetime) or not isinstance(counted_until, datetime):
            return None
        return cls(
            org=str(data.get("org", "")),
            cycle_start=cycle_start,
            counted_until=counted_until,
            count=count,
            complete=data.get("complete") is True,
            paused=data.get("paused") is True,
        )


@dataclass(frozen=True)
class Plan:
    """What to do for one project this poll: the tally so far and the window still to count."""

    tally: Tally  # counted_until is where the window starts
    window_end: datetime | None  # None: nothing to query this poll

    def counted(self, invocations: int) -> Tally:
        """The tally after the window was counted and held `invocations` rows."""
        if self.window_end is None:
            return self.tally
        return replace(
            self.tally, count=self.tally.count + invocations, counted_until=self.window_end
        )


def plan_window(
    previous: Tally | None,
    *,
    org: str,
    status: Status,
    cycle_start: datetime,
    created_at: datetime | None,
    end: datetime,
) -> Plan:
    """Decide which log window to count for a project, carrying its tally into this poll.

    `end` is now minus the log delay. A project observed paused at this poll and the previous
    one counts as zero in between (a paused project serves nothing); one that just paused is
    counted once more from the logs. Counting that would have to reach further back than the
    log retention marks the tally incomplete for the rest of the cycle.
    """
    baseline = cycle_start
    if created_at is not None and created_at > baseline:
        baseline = created_at
    same_cycle = previous is not None and previous.cycle_start == cycle_start
    if previous is not None and same_cycle:
        start, count, complete = (
            max(previous.counted_until, baseline),
            previous.count,
            previous.complete,
        )
    else:
        start, count, complete = baseline, 0, True
    was_paused = previous is not None and previous.paused
    paused = status is Status.PAUSED
    if start >= end:
        tally = Tally(org, cycle_start, start, count, complete, paused)
        return Plan(tally, None)
    if paused and was_paused and previous is not None and previous.counted_until <= start:
        # Paused at both observations: nothing ran in between, whatever cycle it belongs to.
        return Plan(Tally(org, cycle_start, end, count, complete, paused), None)
    if status is Status.OTHER:
        return Plan(Tally(org, cycle_start, start, count, complete, paused), None)
    if start < end - LOG_RETENTION:
        # The logs before this point are gone: this cycle's total can no longer be known.
        start, complete = end - LOG_RETENTION, False
    return Plan(Tally(org, cycle_start, start, count, complete, paused), end)
